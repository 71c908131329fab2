"""prep -> train2/train -> evaluate -> register against one sqlite store, in process.

Covers the gate end to end (first model promoted, identical and worse ones not), the
idempotence of register, lineage tags, and the bad inputs of evaluate and register.
"""

from __future__ import annotations

import json
from pathlib import Path

import evaluate
import featurize
import package
import pandas as pd
import prep
import pytest
import register
import train
import train2
from taxi_fare.metrics import METRIC_NAMES
from taxi_fare.models import MODEL_REQUIREMENTS, load_model
from taxi_fare.schema import FEATURES, TARGET

NAME = "taxi-fare"


def args(**flags: object) -> list[str]:
    return [item for key, value in flags.items() for item in (f"--{key}", str(value))]


def versions() -> list:
    from mlflow import MlflowClient

    return sorted(
        MlflowClient().search_model_versions(f"name='{NAME}'"), key=lambda v: int(v.version)
    )


def one_error_line(capsys: pytest.CaptureFixture) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    return lines[0]


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory, tracking_uri: str) -> Path:
    return tmp_path_factory.mktemp("chain")


@pytest.fixture(scope="module")
def split(work: Path, raw_folder: Path) -> Path:
    code = prep.main(
        [
            "--raw_data",
            str(raw_folder),
            *args(
                train_data=work / "train", test_data=work / "test", quality_report=work / "quality"
            ),
        ]
    )
    assert code == 0
    return work


def fit_rf(folder: Path, split: Path, **params: object) -> Path:
    assert train2.main(args(train_data=split / "train", model_output=folder, **params)) == 0
    return folder


def run_evaluate(model: Path, split: Path, out: Path, *extra: str) -> dict:
    argv = [*args(model_input=model, test_data=split / "test", evaluation_output=out), *extra]
    assert evaluate.main(argv) == 0
    return json.loads((out / "decision.json").read_text())


def run_register(
    model: Path, evaluation: Path, out: Path, split: Path, trainer: str = "rf"
) -> dict:
    argv = args(
        model_input=model,
        evaluation_output=evaluation,
        model_info_output=out,
        trainer=trainer,
        quality_report=split / "quality",
    )
    assert register.main(argv) == 0
    return json.loads((out / "model_info.json").read_text())


@pytest.fixture(scope="module")
def rf_model(split: Path) -> Path:
    return fit_rf(split / "rf", split, n_estimators=15, max_depth=10)


@pytest.fixture(scope="module")
def first(split: Path, rf_model: Path) -> dict:
    """The first model through evaluate and register: the bootstrap champion, version 1."""
    decision = run_evaluate(rf_model, split, split / "eval1")
    info = run_register(rf_model, split / "eval1", split / "info1", split)
    return {"decision": decision, "info": info}


def test_first_model_is_registered_with_lineage(first: dict, split: Path) -> None:
    decision, info = first["decision"], first["info"]
    assert decision["promote"] is True and "bootstrap" in decision["reason"]
    assert info["registered"] is True and info["name"] == NAME and info["version"] == 1
    metrics = json.loads((split / "eval1/metrics.json").read_text())
    assert set(metrics) == set(METRIC_NAMES)
    assert metrics["r2_score"] > 0.8  # the generated fares are learnable
    (version,) = versions()
    tags = version.tags
    quality = json.loads((split / "quality/quality.json").read_text())
    assert tags["data_fingerprint"] == quality["data_fingerprint"]
    assert tags["trainer"] == "rf" and tags["pipeline_run_id"] and tags["git_commit"]
    for name in METRIC_NAMES:
        assert float(tags[name]) == pytest.approx(metrics[name])
    assert version.run_id == info["run_id"]
    for plot in ("predicted_vs_actual.png", "residuals.png", "feature_importance.png"):
        assert (split / "eval1" / plot).stat().st_size > 1000
    assert "Decision: promote" in (split / "eval1/report.md").read_text()


def test_register_again_is_idempotent(first: dict, rf_model: Path, split: Path) -> None:
    before = len(versions())
    info = run_register(rf_model, split / "eval1", split / "info1-again", split)
    assert info["registered"] is True and info["version"] == first["info"]["version"]
    assert "already registered" in info["reason"]
    assert len(versions()) == before


def test_identical_challenger_is_not_promoted(first: dict, rf_model: Path, split: Path) -> None:
    before = len(versions())
    decision = run_evaluate(rf_model, split, split / "eval-same")
    assert decision["promote"] is False and decision["champion_version"] == before
    assert decision["champion"] == pytest.approx(decision["challenger"])
    info = run_register(rf_model, split / "eval-same", split / "info-same", split)
    assert info["registered"] is False and info["version"] is None
    assert info["reason"] == decision["reason"]
    assert len(versions()) == before


def test_worse_challenger_is_refused(first: dict, split: Path) -> None:
    before = len(versions())
    weak = fit_rf(split / "weak", split, n_estimators=2, max_depth=2)
    decision = run_evaluate(weak, split, split / "eval-weak")
    assert decision["promote"] is False and "not better" in decision["reason"]
    challenger, champion = decision["challenger"], decision["champion"]
    assert challenger["root_mean_squared_error"] > champion["root_mean_squared_error"]
    assert (
        run_register(weak, split / "eval-weak", split / "info-weak", split)["registered"] is False
    )
    assert len(versions()) == before


def test_dry_run_registers_nothing(first: dict, split: Path) -> None:
    before = len(versions())
    better = fit_rf(split / "better", split, n_estimators=30, max_depth=14)
    decision = run_evaluate(better, split, split / "eval-dry", "--gate_mode", "dry_run")
    assert decision["promote"] is False and decision["mode"] == "dry_run"
    assert (
        run_register(better, split / "eval-dry", split / "info-dry", split)["registered"] is False
    )
    assert len(versions()) == before


def test_unloadable_champion_fails_closed(
    first: dict, rf_model: Path, split: Path, monkeypatch
) -> None:
    import taxi_fare.models

    def broken(uri: str):
        raise OSError(f"{uri}: artifact missing")

    monkeypatch.setattr(taxi_fare.models, "load_model_uri", broken)
    decision = run_evaluate(rf_model, split, split / "eval-broken", "--gate_mode", "off")
    assert decision["promote"] is False
    assert decision["reason"].startswith("fail closed: champion models:/taxi-fare/")


@pytest.mark.parametrize(
    ("content", "needle"),
    [(None, "decision file not found"), ("{oops", "not readable JSON")],
)
def test_register_refuses_without_a_readable_decision(
    first: dict, rf_model: Path, split: Path, tmp_path: Path, capsys, content, needle
) -> None:
    before = len(versions())
    evaluation = tmp_path / "evaluation"
    evaluation.mkdir()
    if content is not None:
        (evaluation / "decision.json").write_text(content)
    argv = args(
        model_input=rf_model, evaluation_output=evaluation, model_info_output=tmp_path / "info"
    )
    assert register.main(argv) == 1
    line = one_error_line(capsys)
    assert str(evaluation / "decision.json") in line and needle in line
    assert not (tmp_path / "info").exists()
    assert len(versions()) == before


def test_register_refuses_a_decision_about_another_model(
    first: dict, split: Path, tmp_path, capsys
) -> None:
    before = len(versions())
    other = fit_rf(tmp_path / "other", split, n_estimators=2)
    capsys.readouterr()
    argv = args(
        model_input=other, evaluation_output=split / "eval1", model_info_output=tmp_path / "info"
    )
    assert register.main(argv) == 1
    assert "decided for model" in one_error_line(capsys)
    assert not (tmp_path / "info").exists() and len(versions()) == before


def test_folder_that_is_not_a_model(first: dict, split: Path, tmp_path: Path, capsys) -> None:
    before = len(versions())
    not_model = split / "train"
    argv = args(model_input=not_model, test_data=split / "test", evaluation_output=tmp_path / "e")
    assert evaluate.main(argv) == 1
    assert f"{not_model}: not an MLflow model" in one_error_line(capsys)
    assert not (tmp_path / "e").exists()
    argv = args(
        model_input=not_model, evaluation_output=split / "eval1", model_info_output=tmp_path / "i"
    )
    assert register.main(argv) == 1
    assert str(not_model) in one_error_line(capsys)
    assert not (tmp_path / "i").exists() and len(versions()) == before


def test_model_contract(rf_model: Path, split: Path) -> None:
    """Columns by name in any order; taxi_fare and the pins travel with the model."""
    model = load_model(rf_model)
    test = pd.read_parquet(split / "test/data.parquet")
    shuffled = test[list(reversed(FEATURES))].head(20)
    expected = model.predict(test[list(FEATURES)].head(20))
    assert list(model.predict(shuffled)) == pytest.approx(list(expected))
    assert (rf_model / "code/taxi_fare/features.py").is_file()
    pins = [line for line in MODEL_REQUIREMENTS.read_text().splitlines() if "==" in line]
    assert (rf_model / "requirements.txt").read_text().split() == pins
    example = json.loads((rf_model / "input_example.json").read_text())
    assert example["columns"] == list(FEATURES) and TARGET not in example["columns"]


def test_train_automl(split: Path) -> None:
    """featurize -> train (the AutoML stand-in) -> package, as pipeline-automl.yml runs them."""
    out = split / "automl"
    assert featurize.main(args(train_data=split / "train", features_data=out / "features")) == 0
    argv = args(
        train_data=out / "features",
        model_output=out / "best",
        time_budget_seconds=2,
        allowed_algorithms="LightGBM",
        max_trials=3,
    )
    assert train.main(argv) == 0
    packaged = args(
        best_model=out / "best", sample_data=split / "train", model_output=out / "model"
    )
    assert package.main(packaged) == 0
    test = pd.read_parquet(split / "test/data.parquet")
    predicted = load_model(out / "model").predict(test[list(FEATURES)])
    rmse = float(((predicted - test[TARGET]) ** 2).mean() ** 0.5)
    assert rmse < test[TARGET].std()  # learned something beyond the mean
    raw = load_model(out / "model").get_raw_model()
    assert type(raw.named_steps["model"]).__name__ == "LGBMRegressor"


@pytest.mark.parametrize(
    ("flag", "value", "needle"),
    [
        (
            "allowed_algorithms",
            "LightGBM,XGBoostRegressor",
            "allowed_algorithms: AutoML algorithm 'XGBoostRegressor' has no local (FLAML)",
        ),
        ("primary_metric", "accuracy", "'accuracy' is not an Azure AutoML regression metric"),
    ],
)
def test_train_refuses_unmappable_settings(
    split: Path, tmp_path: Path, capsys, flag, value, needle
) -> None:
    argv = args(train_data=split / "train", model_output=tmp_path / "m", **{flag: value})
    assert train.main(argv) == 1
    assert needle in one_error_line(capsys)
    assert not (tmp_path / "m").exists()


def test_train2_refuses_a_used_output_folder(rf_model: Path, split: Path, capsys) -> None:
    assert train2.main(args(train_data=split / "train", model_output=rf_model, n_estimators=1)) == 1
    assert "model_output folder is not empty" in one_error_line(capsys)


def test_hand_runs_keep_artifacts_beside_the_store(first: dict, tracking_uri: str) -> None:
    """No ./mlruns in the working folder: artifacts go next to the sqlite file."""
    from mlflow import MlflowClient

    store = Path(tracking_uri.removeprefix("sqlite:///")).parent
    assert not (Path.cwd() / "mlruns").exists()
    experiment = MlflowClient().get_experiment_by_name("taxi-fare-steps")
    assert experiment.artifact_location == (store / "artifacts").as_uri()
    run = MlflowClient().get_run(first["info"]["run_id"])
    assert run.info.artifact_uri.startswith((store / "artifacts").as_uri())
