"""The run summary is read from the files the steps wrote, by name, in step order."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from taxi_fare.gate import GatePolicy, decide
from taxi_fare.step_files import StepFileError

from mlops.errors import MlopsError
from mlops.local.runner import RunResult, StepResult
from mlops.local.summary import build_summary


def _result(tmp_path: Path, failed: bool = False) -> RunResult:
    steps = [StepResult("prep", "succeeded"), StepResult("evaluate", "succeeded")]
    if failed:
        steps.append(StepResult("register", "failed", cause="error: boom"))
    result = RunResult("run1", tmp_path, "0", "sqlite:////x/dev/mlflow.db", steps)
    for job, output in (("prep", "quality_report"), ("evaluate", "evaluation_output")):
        folder = tmp_path / job / output
        folder.mkdir(parents=True)
        result.outputs[(job, output)] = folder
    return result


def _write(result: RunResult, job: str, output: str, name: str, data: object) -> None:
    (result.outputs[(job, output)] / name).write_text(json.dumps(data))


METRICS = {
    "root_mean_squared_error": 2.0,
    "mean_absolute_error": 1.5,
    "r2_score": 0.9,
    "mean_absolute_percentage_error": 0.1,
}


def test_summary_reads_counts_metrics_gate_and_report(tmp_path: Path) -> None:
    result = _result(tmp_path)
    quality = {"rows_read": 10, "dropped": {"bad": 2}, "train_rows": 5, "test_rows": 3}
    written = {**quality, "files": [], "rows_kept": 8, "data_fingerprint": "f", "split": {}}
    _write(result, "prep", "quality_report", "quality.json", written)
    _write(result, "evaluate", "evaluation_output", "metrics.json", METRICS)
    decision = {"promote": False, "reason": "not better", "champion_version": 3}
    made = decide(METRICS, METRICS, GatePolicy(), 3).to_dict()
    _write(result, "evaluate", "evaluation_output", "decision.json", {**made, **decision})
    (result.outputs[("evaluate", "evaluation_output")] / "report.md").write_text("# r\n")
    summary = build_summary(result, trainer="rf", env="dev")
    assert summary["data"] == quality
    assert summary["metrics"] == {"rmse": 2.0, "mae": 1.5, "r2": 0.9, "mape": 0.1}
    assert summary["gate"] == decision
    assert summary["model"] is None  # register did not run
    assert summary["report"] == str(tmp_path / "evaluate" / "evaluation_output" / "report.md")
    assert summary["status"] == "succeeded" and summary["failed_step"] is None
    assert summary["mlflow_ui"] == "mlflow ui --backend-store-uri sqlite:////x/dev/mlflow.db"


def test_unregistered_model_has_a_null_version(tmp_path: Path) -> None:
    result = _result(tmp_path)
    info = {"registered": False, "name": "m", "version": None, "run_id": "r", "reason": "gate"}
    _write(result, "evaluate", "evaluation_output", "model_info.json", info)
    model = build_summary(result, trainer="rf", env="dev")["model"]
    assert model == {"name": "m", "version": None, "registered": False, "reason": "gate"}


def test_failed_run_names_the_step(tmp_path: Path) -> None:
    summary = build_summary(_result(tmp_path, failed=True), trainer="automl", env="dev")
    assert (summary["status"], summary["failed_step"], summary["error"]) == (
        "failed",
        "register",
        "error: boom",
    )
    assert summary["data"] is None and summary["metrics"] is None and summary["report"] is None


def test_unreadable_step_file_is_an_error_naming_it(tmp_path: Path) -> None:
    result = _result(tmp_path)
    (result.outputs[("prep", "quality_report")] / "quality.json").write_text("{not json")
    with pytest.raises(StepFileError, match=r"quality_report/quality.json: quality report is not"):
        build_summary(result, trainer="rf", env="dev")
    (result.outputs[("prep", "quality_report")] / "quality.json").write_text("[1]")
    with pytest.raises(StepFileError, match="must hold a JSON object, got list"):
        build_summary(result, trainer="rf", env="dev")
    (result.outputs[("prep", "quality_report")] / "quality.json").write_text("{}")
    decision = result.outputs[("evaluate", "evaluation_output")] / "decision.json"
    decision.write_text(json.dumps({"promote": "no", "reason": "x"}))
    with pytest.raises(StepFileError, match=r"quality.json: key 'files' is missing"):
        build_summary(result, trainer="rf", env="dev")
    (result.outputs[("prep", "quality_report")] / "quality.json").unlink()
    with pytest.raises(StepFileError, match=r"decision.json: key 'promote' must be true or false"):
        build_summary(result, trainer="rf", env="dev")
    decision.unlink()
    (result.outputs[("evaluate", "evaluation_output")] / "metrics.json").write_text("[1]")
    with pytest.raises(MlopsError, match=r"metrics\.json: expected a JSON object, found list"):
        build_summary(result, trainer="rf", env="dev")
