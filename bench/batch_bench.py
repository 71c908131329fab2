"""Batch scoring: rows/s of ``mlops batch-score`` against ``model.predict`` in memory.

``mlops batch-score`` is timed end to end as a user runs it (start-up, model load, reading
the parquet files, scoring, writing predictions.csv); the floor is the loaded MLflow
model's ``predict`` on the very same rows, already in memory.
"""

from __future__ import annotations

import logging
import shutil
import sys
import time
from pathlib import Path

from taxi_fare.schema import FEATURES

from bench.procs import fastest, run_measured
from bench.results import BenchResult, Target, measured
from bench.workspace import SEED, Workspace

log = logging.getLogger(__name__)

TARGET = Target("ratio", ">=", 0.7)
FILES = 4


def write_inputs(test_split: Path, rows: int, folder: Path) -> int:
    """``FILES`` parquet files holding a seeded sample of ``rows`` test rows; returns rows."""
    import numpy as np
    import pandas as pd

    table = pd.read_parquet(test_split / "data.parquet")
    table = table.sample(n=min(rows, len(table)), random_state=SEED).reset_index(drop=True)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for i, part in enumerate(np.array_split(np.arange(len(table)), FILES)):
        table.iloc[part].to_parquet(folder / f"part-{i:03d}.parquet", index=False)
    return len(table)


def predict_seconds(model_dir: Path, folder: Path, repeats: int) -> tuple[float, float]:
    """Fastest seconds of ``predict`` on all rows in memory, and of loading the model."""
    import mlflow.pyfunc
    import pandas as pd

    frame = pd.concat(
        [pd.read_parquet(p, columns=list(FEATURES)) for p in sorted(folder.glob("*.parquet"))],
        ignore_index=True,
    )
    started = time.perf_counter()
    model = mlflow.pyfunc.load_model(str(model_dir))
    load_s = time.perf_counter() - started
    runs = []
    for _ in range(repeats):
        started = time.perf_counter()
        predictions = model.predict(frame)
        runs.append(time.perf_counter() - started)
        if len(predictions) != len(frame):
            raise RuntimeError(f"predict returned {len(predictions)} values for {len(frame)} rows")
    return min(runs), load_s


def count_predictions(output: Path) -> int:
    with output.open() as handle:
        return sum(1 for _ in handle) - 1  # header line


def run(ws: Workspace) -> list[BenchResult]:
    model_dir = ws.model()
    _, test = ws.splits()
    folder = ws.root / "batch-input"
    rows = write_inputs(test, ws.sizes.batch_rows, folder)
    floor_s, load_s = predict_seconds(model_dir, folder, ws.sizes.repeats)

    output = ws.root / "batch-output" / "predictions.csv"
    argv = [sys.executable, "-m", "mlops", "batch-score", "--input", str(folder),
            "--output", str(output), "--model-dir", str(model_dir)]  # fmt: skip
    ours = fastest([run_measured(argv, env=ws.env(), log_file=ws.logs / f"batch-score-{i}.log")
                    for i in range(ws.sizes.repeats)])  # fmt: skip
    scored = count_predictions(output)
    if scored != rows:
        raise RuntimeError(f"{output}: {scored} predictions for {rows} input rows")
    details = {
        "rows": rows, "files": FILES, "ours_seconds": ours.seconds, "floor_seconds": floor_s,
        "floor_model_load_s": load_s,
        "ours_minus_load_and_predict_s": ours.seconds - load_s - floor_s,
        "floor": "mlflow.pyfunc.load_model(...).predict(frame) on the same rows in memory",
        # As prep's: a batch endpoint scores whole folders; at quick mode's rows the job's
        # fixed start-up (ours_minus_load_and_predict_s) is most of it.
        "target_applies_at": "2,000,000 rows (--full)",
    }  # fmt: skip
    log.info("batch-score %.1f s, predict %.1f s on %s rows", ours.seconds, floor_s, f"{rows:,}")
    return [
        measured(
            "batch_rows_per_s",
            "rows/s",
            "in-memory predict of the same rows",
            rows / ours.seconds,
            rows / floor_s,
            TARGET,
            details,
        ),
    ]
