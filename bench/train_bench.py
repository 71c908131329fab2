"""Training: ``train2.py`` wall time against a bare fit of the same pipeline in memory.

The ratio is the overhead of our step around the model: interpreter start and imports,
reading the split, the training-set metrics, saving the MLflow model and logging to
MLflow. The bare fit uses the same pipeline, hyperparameters, seed and rows.
"""

from __future__ import annotations

import logging
import shutil
import sys
import time

from taxi_fare.forest_params import RF_DEFAULTS
from taxi_fare.schema import FEATURES
from taxi_fare.schema import TARGET as COST

from bench.procs import fastest, run_measured
from bench.results import BenchResult, Target, measured
from bench.workspace import SEED, Workspace

log = logging.getLogger(__name__)

TARGET = Target("ratio", "<=", 1.15)
IMPORTS = "import mlflow.sklearn, sklearn.ensemble, pandas, taxi_fare.models"


def bare_fit_seconds(X, y) -> float:  # noqa: N803 (sklearn naming)
    """Seconds of ``random_forest_pipeline(train2 defaults).fit`` on the in-memory matrix."""
    from taxi_fare.models import random_forest_pipeline

    pipeline = random_forest_pipeline(seed=SEED)
    started = time.perf_counter()
    pipeline.fit(X, y)
    return time.perf_counter() - started


def run(ws: Workspace) -> list[BenchResult]:
    import pandas as pd

    train_data = ws.train_subset()
    ws.ensure_store()
    table = pd.read_parquet(train_data / "data.parquet")
    X, y = table[list(FEATURES)], table[COST]  # noqa: N806 (sklearn naming)
    rows = len(table)
    floor_runs: list[float] = []
    our_runs = []
    for i in range(ws.sizes.repeats):
        floor_runs.append(bare_fit_seconds(X, y))
        shutil.rmtree(ws.model_dir, ignore_errors=True)
        our_runs.append(run_measured(ws.train2_command(train_data, ws.model_dir), env=ws.env(),
                                     log_file=ws.logs / f"train2-{i}.log"))  # fmt: skip
    floor_s, ours = min(floor_runs), fastest(our_runs)
    imports = run_measured([sys.executable, "-c", IMPORTS], env=ws.env())
    model_mb = sum(p.stat().st_size for p in ws.model_dir.rglob("*") if p.is_file()) / 2**20
    details = {
        "rows": rows,
        "hyperparameters": f"train2.py defaults ({RF_DEFAULTS.to_dict()})",
        "startup_and_imports_s": imports.seconds,
        "model_folder_mb": model_mb,
        "floor": "random_forest_pipeline(...).fit(X, y) in memory, same rows and seed",
        "ours_runs_s": [m.seconds for m in our_runs],
        "floor_runs_s": floor_runs,
    }
    log.info("train2 %.1f s, bare fit %.1f s on %s rows", ours.seconds, floor_s, f"{rows:,}")
    return [
        measured(
            "train2_time",
            "s",
            "bare sklearn fit of the same pipeline",
            ours.seconds,
            floor_s,
            TARGET,
            details,
        ),
    ]
