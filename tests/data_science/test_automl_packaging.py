"""The local AutoML path: featurize -> train.py (FLAML stand-in) -> package.py.

The packaged model must have the shape of train2.py's (one MLflow model over the 20
features) and load in score.py and batch_score.py; package.py refuses a best model that
was not trained on the derived features, leaving nothing behind.
"""

from __future__ import annotations

import json
from pathlib import Path

import batch_score
import featurize
import numpy as np
import package
import pandas as pd
import prep
import pytest
import score
import train
from taxi_fare.automl import model_input_columns
from taxi_fare.features import DerivedFeatures
from taxi_fare.models import load_model
from taxi_fare.schema import FEATURES, TARGET


def args(**flags: object) -> list[str]:
    return [item for key, value in flags.items() for item in (f"--{key}", str(value))]


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory, tracking_uri: str, raw_folder: Path) -> Path:
    """prep, featurize, a 4-trial search and the package, once for the module."""
    work = tmp_path_factory.mktemp("automl")
    split = args(train_data=work / "train", test_data=work / "test", quality_report=work / "q")
    assert prep.main(["--raw_data", str(raw_folder), *split]) == 0
    assert featurize.main(args(train_data=work / "train", features_data=work / "features")) == 0
    search = args(
        train_data=work / "features",
        model_output=work / "best",
        time_budget_seconds=1,
        max_trials=4,
        allowed_algorithms="LightGBM,ExtremeRandomTrees",
        enable_vote_ensemble="true",  # as pipeline-automl.yml's node says
    )
    assert train.main(search) == 0
    packaged = args(
        best_model=work / "best", sample_data=work / "train", model_output=work / "model"
    )
    assert package.main(packaged) == 0
    return work


def test_automl_trains_on_the_derived_features(work: Path) -> None:
    table = pd.read_parquet(work / "features" / "data.parquet")
    derived = list(DerivedFeatures().fit(table).get_feature_names_out())
    assert list(table.columns) == [*derived, TARGET]
    assert (work / "features" / "MLTable").is_file()
    assert model_input_columns(work / "best") == derived  # the node's best_model


def test_packaged_model_has_the_20_column_signature(work: Path) -> None:
    assert model_input_columns(work / "model") == list(FEATURES)
    example = json.loads((work / "model" / "input_example.json").read_text())
    assert example["columns"] == list(FEATURES)
    raw = load_model(work / "model").get_raw_model()
    assert [name for name, _ in raw.steps] == ["features", "model"]
    assert (work / "model" / "requirements.txt").read_text() == (
        work / "best" / "requirements.txt"
    ).read_text()  # the best model's runtime, carried over


def test_packaged_model_loads_in_score_py(work: Path) -> None:
    test = pd.read_parquet(work / "test" / "data.parquet").head(7)
    model = score.load_scoring_model(work / "model")
    body = {"input_data": test[list(FEATURES)].to_dict(orient="records")}
    predicted = score.score_body(json.dumps(body), model, limit=100)
    expected = load_model(work / "model").predict(test[list(FEATURES)])
    np.testing.assert_allclose(predicted, expected, rtol=1e-9)


def test_packaged_model_loads_in_batch_score_py(
    work: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    test = pd.read_parquet(work / "test" / "data.parquet").head(9)
    test[list(reversed(FEATURES))].to_parquet(tmp_path / "trips.parquet")  # by name, not order
    monkeypatch.setenv("AZUREML_MODEL_DIR", str(work / "model"))
    batch_score.init()
    rows = batch_score.run([str(tmp_path / "trips.parquet")])
    assert [line.split(",")[1] for line in rows] == [str(i) for i in range(9)]
    expected = load_model(work / "model").predict(test[list(FEATURES)])
    np.testing.assert_allclose([float(line.split(",")[2]) for line in rows], expected, rtol=1e-9)


def test_package_refuses_a_model_trained_on_the_raw_columns(
    work: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw_best = tmp_path / "raw-best"
    search = args(
        train_data=work / "train",  # the 20 raw columns, not featurize's output
        model_output=raw_best,
        time_budget_seconds=1,
        max_trials=2,
        allowed_algorithms="LightGBM",
    )
    assert train.main(search) == 0
    capsys.readouterr()
    out = tmp_path / "model"
    code = package.main(args(best_model=raw_best, sample_data=work / "train", model_output=out))
    assert code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("error: best_model was not trained on the derived features")
    assert "lacks 'duration_min'" in err[0]
    assert not out.exists() or not any(out.iterdir())


def test_package_refuses_a_folder_that_is_not_a_model(
    work: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "model"
    code = package.main(args(best_model=tmp_path, sample_data=work / "train", model_output=out))
    assert code == 1
    message = f"error: {tmp_path}: not an MLflow model (no MLmodel file)"
    assert capsys.readouterr().err.strip() == message
    assert not out.exists()


def test_train_refuses_a_target_that_is_not_a_column(
    work: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flags = args(
        train_data=work / "features",
        model_output=tmp_path / "best",
        target_column_name="fare",
        max_trials=1,
    )
    assert train.main(flags) == 1
    err = capsys.readouterr().err.strip()
    assert err == f"error: {work / 'features'}: target_column_name 'fare' is not a column"
    assert not (tmp_path / "best").exists()


def test_a_vote_ensemble_packages_and_loads_in_score_and_batch_score(
    work: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The node's vote ensemble (several learners' best) is one estimator to package."""
    from lightgbm import LGBMRegressor
    from sklearn.ensemble import ExtraTreesRegressor, VotingRegressor
    from taxi_fare.models import save_model

    table = pd.read_parquet(work / "features" / "data.parquet")
    columns = [c for c in table.columns if c != TARGET]
    vote = VotingRegressor(
        [
            ("lgbm", LGBMRegressor(n_estimators=5, verbose=-1, random_state=0)),
            ("extra_tree", ExtraTreesRegressor(n_estimators=3, random_state=0)),
        ],
        weights=[2, 1],
    ).fit(table[columns], table[TARGET])
    best = tmp_path / "best"
    meta = {"trainer": "automl", "estimator": "VotingEnsemble"}
    save_model(vote, best, table, meta, columns=columns)
    packaged = args(best_model=best, sample_data=work / "train", model_output=tmp_path / "model")
    assert package.main(packaged) == 0
    model_dir = tmp_path / "model"
    assert model_input_columns(model_dir) == list(FEATURES)
    raw = load_model(model_dir).get_raw_model()
    assert type(raw.named_steps["model"]).__name__ == "VotingRegressor"
    test = pd.read_parquet(work / "test" / "data.parquet").head(6)
    expected = vote.predict(DerivedFeatures().fit(test).transform(test)[columns])
    body = {"input_data": test[list(FEATURES)].to_dict(orient="records")}
    online = score.score_body(json.dumps(body), score.load_scoring_model(model_dir), limit=100)
    np.testing.assert_allclose(online, expected, rtol=1e-9)
    test[list(FEATURES)].to_parquet(tmp_path / "trips.parquet")
    monkeypatch.setenv("AZUREML_MODEL_DIR", str(model_dir))
    batch_score.init()
    rows = batch_score.run([str(tmp_path / "trips.parquet")])
    np.testing.assert_allclose([float(line.split(",")[2]) for line in rows], expected, rtol=1e-9)
