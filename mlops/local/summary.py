"""The run summary (``mlops train --summary-json``), read from the reports the steps write.

The runner does not know which step writes what; it looks for the report files by name in
the step outputs, in step order: ``quality.json`` (data counts), ``metrics.json`` (test
metrics), ``decision.json`` (gate), ``model_info.json`` (registration), ``report.md``; each
step file through its reader in ``taxi_fare.step_files``, which names the file and key of
anything it refuses.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from taxi_fare.gate import METRICS_FILE
from taxi_fare.step_files import (
    DECISION_FILE,
    MODEL_INFO_FILE,
    QUALITY_FILE,
    read_decision,
    read_model_info,
    read_quality,
)

from mlops.errors import MlopsError
from mlops.local.runner import RunResult

T = TypeVar("T")

# metrics.json key (sklearn-style name) -> summary key
METRIC_KEYS = {
    "root_mean_squared_error": "rmse",
    "mean_absolute_error": "mae",
    "r2_score": "r2",
    "mean_absolute_percentage_error": "mape",
}


def find_output_file(result: RunResult, filename: str) -> Path | None:
    """The first file of that name inside any step output, in step order."""
    step_order = {s.name: i for i, s in enumerate(result.steps)}
    folders = sorted(set(result.outputs.values()), key=lambda p: step_order.get(p.parent.name, 0))
    for folder in folders:
        hits = sorted(folder.rglob(filename))
        if hits:
            return hits[0]
    return None


def _read_json(result: RunResult, filename: str) -> dict[str, Any] | None:
    """``metrics.json``, the one report here that is not a ``taxi_fare.step_files`` file."""
    path = find_output_file(result, filename)
    if path is None:
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise MlopsError(f"{path}: cannot read the step's {filename} ({exc})") from None
    if not isinstance(data, dict):
        raise MlopsError(f"{path}: expected a JSON object, found {type(data).__name__}")
    return data


def _read(result: RunResult, filename: str, reader: Callable[[Path], T]) -> T | None:
    path = find_output_file(result, filename)
    return None if path is None else reader(path)


def build_summary(result: RunResult, trainer: str, env: str) -> dict[str, Any]:
    """Everything a user or a CI job needs to know about one run, as plain JSON data."""
    quality = _read(result, QUALITY_FILE, read_quality)
    metrics = _read_json(result, METRICS_FILE)
    decision = _read(result, DECISION_FILE, read_decision)
    model_info = _read(result, MODEL_INFO_FILE, read_model_info)
    report = find_output_file(result, "report.md")
    failed = result.failed
    return {
        "run_id": result.run_id,
        "status": "failed" if failed else "succeeded",
        "failed_step": failed.name if failed else None,
        "error": failed.cause if failed else None,
        "trainer": trainer,
        "env": env,
        "data": None
        if quality is None
        else {
            "rows_read": quality.rows_read,
            "dropped": quality.dropped,
            "train_rows": quality.train_rows,
            "test_rows": quality.test_rows,
        },
        "metrics": None
        if metrics is None
        else {short: metrics.get(long) for long, short in METRIC_KEYS.items()},
        "gate": None
        if decision is None
        else {
            "promote": decision.promote,
            "reason": decision.reason,
            "champion_version": decision.champion_version,
        },
        "model": None
        if model_info is None
        else {
            "name": model_info.name,
            "version": model_info.version if model_info.registered else None,
            "registered": model_info.registered,
            "reason": model_info.reason,
        },
        "report": str(report) if report is not None else None,
        "run_dir": str(result.run_dir),
        "mlflow_ui": mlflow_ui_command(result.tracking_uri),
    }


def mlflow_ui_command(tracking_uri: str) -> str:
    """The command that opens the MLflow UI on a local store."""
    return f"mlflow ui --backend-store-uri {tracking_uri}"
