"""End to end: `mlops train` runs the repository's own pipeline YAML on tiny generated data.

Runs share one MLOPS_HOME (one dev store) in this order: rf (bootstrap champion), rf again
(same data and seed: not promoted), prep on a bad file (fails, registry untouched), AutoML
with a 3-second budget.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mlops.cli import main

pytestmark = pytest.mark.e2e

RF_SMALL = ["--set", "n_estimators=8", "--set", "max_depth=6", "--seed", "7"]


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from mlops.datagen.generator import generate

    out = tmp_path_factory.mktemp("trips")
    generate(rows=400, out=out, seed=3)
    return out


@pytest.fixture(scope="module")
def registry(module_home: Path) -> Any:
    from mlflow.tracking import MlflowClient

    from mlops import settings

    uri = settings.tracking_uri("dev")
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def _versions(registry: Any) -> list[int]:
    found = registry.search_model_versions("name='taxi-fare'")
    return sorted(int(v.version) for v in found)


def _train(args: list[str], summary: Path) -> None:
    main(["train", *args, "--summary-json", str(summary)])


@pytest.fixture(scope="module")
def first(data: Path, module_home: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    summary = tmp_path_factory.mktemp("first") / "summary.json"
    _train(["--data", str(data), "--trainer", "rf", *RF_SMALL], summary)
    return json.loads(summary.read_text())


@pytest.fixture(scope="module")
def second(first: dict, data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    summary = tmp_path_factory.mktemp("second") / "summary.json"
    _train(["--data", str(data), "--trainer", "rf", *RF_SMALL], summary)
    return json.loads(summary.read_text())


def test_first_run_registers_the_bootstrap_champion(first: dict, registry: Any) -> None:
    assert first["status"] == "succeeded" and first["failed_step"] is None
    assert first["trainer"] == "rf" and first["env"] == "dev"
    counts = first["data"]
    assert counts["rows_read"] == 400
    assert sum(counts["dropped"].values()) + counts["train_rows"] + counts["test_rows"] == 400
    assert counts["test_rows"] == pytest.approx(0.3 * (400 - sum(counts["dropped"].values())), 1)
    metrics = first["metrics"]
    assert set(metrics) == {"rmse", "mae", "r2", "mape"}
    assert 0 < metrics["mae"] <= metrics["rmse"] < 100
    assert metrics["r2"] > 0.3  # a RandomForest learns fare from distance and duration
    assert first["gate"]["promote"] is True
    assert first["model"] == {
        "name": "taxi-fare",
        "version": 1,
        "registered": True,
        "reason": first["model"]["reason"],
    }
    report = Path(first["report"])
    assert report.name == "report.md" and report.is_file()
    assert report.is_relative_to(Path(first["run_dir"]))
    assert first["mlflow_ui"].startswith("mlflow ui --backend-store-uri sqlite:///")
    assert first["mlflow_ui"].endswith("/dev/mlflow.db")
    assert _versions(registry) == [1]
    tags = registry.get_model_version("taxi-fare", "1").tags
    assert tags["trainer"] == "rf"
    assert tags["pipeline_run_id"] == first["run_id"]
    # The commit the runner saw when the run started (HEAD may have moved since).
    parent = registry.get_run(first["run_id"])
    assert tags["git_commit"] == parent.data.tags["mlflow.source.git.commit"]


def test_same_data_and_seed_is_not_promoted(second: dict, registry: Any) -> None:
    assert second["status"] == "succeeded"
    assert second["gate"]["promote"] is False
    assert second["gate"]["reason"]
    assert second["model"]["registered"] is False
    assert second["model"]["version"] is None
    assert second["model"]["reason"]
    assert _versions(registry) == [1]  # the champion is unchanged


def test_same_data_and_seed_give_the_same_metrics(first: dict, second: dict) -> None:
    # Equal up to the last bits: parallel tree prediction sums in varying order.
    assert second["metrics"] == pytest.approx(first["metrics"], rel=1e-9)
    assert second["data"] == first["data"]


def test_a_failing_step_leaves_the_registry_as_it_was(
    second: dict,
    registry: Any,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    bad = tmp_path / "green_bad.csv"
    header = (
        "vendorID,lpepPickupDatetime,lpepDropoffDatetime,passengerCount,tripDistance,"
        "puLocationId,doLocationId,pickupLongitude,pickupLatitude,dropoffLongitude,"
        "dropoffLatitude,rateCodeID,storeAndFwdFlag,paymentType,fareAmount,extra,mtaTax,"
        "improvementSurcharge,tipAmount,tollsAmount,ehailFee,totalAmount,tripType"
    )
    row = (
        "2,2015-01-01 10:00:00,2015-01-01 10:10:00,1,abc,,,-73.95,40.72,-73.96,40.73,"
        "1,N,1,8.5,0,0.5,0.3,1,0,,10.3,1"
    )
    bad.write_text(f"{header}\n{row}\n")
    summary = tmp_path / "summary.json"
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        _train(["--data", str(bad), "--trainer", "rf", *RF_SMALL], summary)
    assert exited.value.code == 1
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("error: step 'prep' failed: error: ")
    assert "green_bad.csv" in last and "tripDistance" in last
    result = json.loads(summary.read_text())
    assert result["status"] == "failed" and result["failed_step"] == "prep"
    assert result["model"] is None and result["gate"] is None
    assert _versions(registry) == [1]


def test_automl_with_a_short_budget(
    second: dict, data: Path, registry: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    summary = tmp_path / "summary.json"
    capsys.readouterr()
    _train(["--data", str(data), "--trainer", "automl", "--time-budget", "3"], summary)
    out = capsys.readouterr().out
    result = json.loads(summary.read_text())
    assert result["status"] == "succeeded" and result["trainer"] == "automl"
    assert set(result["metrics"]) == {"rmse", "mae", "r2", "mape"}
    assert result["metrics"]["rmse"] > 0
    assert f"report: {result['report']}\n" in out
    assert "mlflow ui --backend-store-uri sqlite:///" in out
    if result["gate"]["promote"]:
        assert result["model"]["version"] == 2
        assert _versions(registry) == [1, 2]
        assert registry.get_model_version("taxi-fare", "2").tags["trainer"] == "automl"
    else:
        assert result["model"]["version"] is None
        assert _versions(registry) == [1]
