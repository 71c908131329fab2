"""Prep at scale: ``prep.py`` on generated raw TLC CSVs against the pyarrow read/write floor."""

from __future__ import annotations

import logging
import shutil
import sys

from taxi_fare.step_files import read_quality

from bench.procs import fastest, run_measured
from bench.results import BenchResult, Target, measured
from bench.workspace import REPO_ROOT, Workspace

log = logging.getLogger(__name__)

GB = 2**30
TIME_TARGET = Target("ratio", "<=", 2.0)
RSS_TARGET = Target("ours", "<=", 6.0)


def run(ws: Workspace) -> list[BenchResult]:
    raw = ws.raw_data()
    csvs = sorted(raw.glob("*.csv"))
    size = sum(p.stat().st_size for p in csvs)
    ws.ensure_store()

    floor_out = ws.root / "prep-floor"
    floor_cmd = [sys.executable, "-m", "bench.prep_floor", str(floor_out), *map(str, csvs)]
    floor_runs, our_runs = [], []
    for i in range(ws.sizes.repeats):
        shutil.rmtree(floor_out, ignore_errors=True)
        floor_runs.append(run_measured(floor_cmd, env=ws.env(), cwd=REPO_ROOT,
                                       log_file=ws.logs / f"prep-floor-{i}.log"))  # fmt: skip
        shutil.rmtree(ws.prep_out, ignore_errors=True)
        our_runs.append(run_measured(ws.prep_command(raw), env=ws.env(),
                                     log_file=ws.logs / f"prep-{i}.log"))  # fmt: skip
    shutil.rmtree(floor_out, ignore_errors=True)
    floor, ours = fastest(floor_runs), fastest(our_runs)

    quality = read_quality(ws.prep_out / "quality")

    rows = quality.rows_read
    details = {
        "rows": rows, "files": len(csvs), "csv_bytes": size,
        "rows_kept": quality.rows_kept,
        "ours_rows_per_s": rows / ours.seconds, "floor_rows_per_s": rows / floor.seconds,
        "floor": "pyarrow.csv.read_csv + pyarrow.parquet.write_table per file (subprocess)",
        "target_applies_at": "10,000,000 rows (--full)",
        "ours_runs_s": [m.seconds for m in our_runs],
        "floor_runs_s": [m.seconds for m in floor_runs],
    }  # fmt: skip
    log.info("prep %.1f s, floor %.1f s on %s rows", ours.seconds, floor.seconds, f"{rows:,}")
    return [
        measured(
            "prep_time",
            "s",
            "pyarrow CSV -> parquet of the same files",
            ours.seconds,
            floor.seconds,
            TIME_TARGET,
            details,
        ),
        measured(
            "prep_peak_rss",
            "GB",
            "peak RSS of the pyarrow floor",
            ours.peak_rss_bytes / GB,
            floor.peak_rss_bytes / GB,
            RSS_TARGET,
            {"rows": rows},
        ),
    ]
