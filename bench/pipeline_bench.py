"""Local pipeline: time per step of ``mlops train --trainer rf`` on the committed sample.

Each step's time comes from its MLflow child run (the runner opens it just before the
step's subprocess and closes it just after). The run's wall time against the sum of its
steps is the runner's own overhead; each step is also shown as its share of the run.
"""

from __future__ import annotations

import json
import logging
import shutil
import sys

from bench.procs import run_measured
from bench.results import BenchResult, measured
from bench.workspace import REPO_ROOT, Workspace

log = logging.getLogger(__name__)

SAMPLE = REPO_ROOT / "data" / "sample"


def step_seconds(tracking_uri: str, parent_run_id: str) -> dict[str, float]:
    """Seconds of each child run of ``parent_run_id``, in start order, keyed by run name."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri)
    parent = client.get_run(parent_run_id)
    children = client.search_runs(
        [parent.info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{parent_run_id}'",
        order_by=["attributes.start_time ASC"],
    )
    return {
        run.info.run_name: (run.info.end_time - run.info.start_time) / 1000.0
        for run in children
        if run.info.end_time is not None
    }


def run(ws: Workspace) -> list[BenchResult]:
    if not any(SAMPLE.glob("*.csv")):
        raise FileNotFoundError(f"{SAMPLE}: no committed sample CSVs")
    home = ws.root / "pipeline-home"
    shutil.rmtree(home, ignore_errors=True)
    summary_file = ws.root / "pipeline-summary.json"
    argv = [sys.executable, "-m", "mlops", "train", "--data", str(SAMPLE), "--trainer", "rf",
            "--summary-json", str(summary_file)]  # fmt: skip
    ours = run_measured(argv, env=ws.env(MLOPS_HOME=str(home)), cwd=REPO_ROOT,
                        log_file=ws.logs / "pipeline.log")  # fmt: skip
    summary = json.loads(summary_file.read_text())
    steps = step_seconds(f"sqlite:///{home / 'dev' / 'mlflow.db'}", summary["run_id"])
    if not steps:
        raise RuntimeError(f"run {summary['run_id']}: no finished step runs found")
    total_steps = sum(steps.values())
    rows = (summary.get("data") or {}).get("rows_read")
    log.info("mlops train %.1f s; steps %s", ours.seconds,
             ", ".join(f"{k} {v:.1f} s" for k, v in steps.items()))  # fmt: skip
    results = [
        measured("pipeline_time", "s", "sum of the step times (runner overhead)", ours.seconds,
                 total_steps, None, {"steps_s": steps, "rows_read": rows, "trainer": "rf",
                                     "note": "fresh MLOPS_HOME: includes creating the store"}),
    ]  # fmt: skip
    for name, seconds in steps.items():
        results.append(measured(f"pipeline_step_{name}", "s", "share of the whole run",
                                seconds, ours.seconds))  # fmt: skip
    return results
