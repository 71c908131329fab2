"""Prep scale-out (issue 21): memory flat in the data size, workers, and the pyarrow floor.

    python -m bench.prep_scale_bench --rows 10000000 --output bench/results-prep-scale.json
    python -m bench.prep_scale_bench --quick --output /tmp/scale.json     # tiny, for a test

Three ratios, one run each (the machine is shared: read them with its load in mind):
- ``prep_rss_3x_data``: peak RSS of prep.py on 3N rows over prep.py on N rows, the 3N
  set being the N set's files three times under other names (hard links: the same file
  size, three times the files and rows); target <= 1.2.
- ``parallel_speedup_2_workers``: per-file prep through the twin's parallel driver
  (mlops/local/parallel.py running prep_parallel.py, mini_batch_size 1) with 1 worker
  process over 2 on the N set: seconds(1) / seconds(2); target >= 1.6.
- ``prep_time_vs_floor``: prep.py on N rows over pyarrow read_csv + write_table of the
  same files (bench.prep_floor); target <= 2.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path

from bench.procs import run_measured
from bench.results import document, machine_info, measured, table, write
from bench.workspace import REPO_ROOT, SRC, Sizes, Workspace

log = logging.getLogger(__name__)
GB = 2**30
ROWS_PER_FILE_FULL = 1_000_000


def make_data(root: Path, rows: int, files_per_kind: int) -> tuple[Path, Path]:
    """The N set (generated) and the 3N set (its files linked three times)."""
    from mlops.datagen.generator import generate

    base, triple = root / f"raw-{rows}", root / f"raw-{rows}-x3"
    if not (base / ".complete").exists():
        shutil.rmtree(base, ignore_errors=True)
        generate(rows, base, 7, files_per_kind)
        (base / ".complete").write_text("")
    if not (triple / ".complete").exists():
        shutil.rmtree(triple, ignore_errors=True)
        triple.mkdir()
        for copy in range(3):
            for csv in sorted(base.glob("*.csv")):
                os.link(csv, triple / f"{csv.stem}_copy{copy}.csv")
        (triple / ".complete").write_text("")
    return base, triple


def driver_command(raw: Path, out: Path, workers: int) -> list[str]:
    return [sys.executable, str(REPO_ROOT / "mlops/local/parallel.py"),
            "--entry_script", "prep_parallel.py", "--input_data", str(raw),
            "--mini_batch_size", "1", "--workers", str(workers), "--error_threshold", "0",
            "--append_row_to", str(out / "rows"), "--",
            "--train_parts", str(out / "train"), "--test_parts", str(out / "test")]  # fmt: skip


def run(root: Path, rows: int, files_per_kind: int) -> list:
    ws = Workspace(root, Sizes.quick())
    ws.ensure_store()
    base, triple = make_data(root, rows, files_per_kind)
    n_files = len(list(base.glob("*.csv")))
    env = ws.env()

    def prep(raw: Path, name: str):
        shutil.rmtree(ws.prep_out, ignore_errors=True)
        return run_measured(ws.prep_command(raw), env=env, log_file=ws.logs / f"{name}.log")

    small = prep(base, "prep-n")
    large = prep(triple, "prep-3n")
    floor_out = root / "floor"
    shutil.rmtree(floor_out, ignore_errors=True)
    floor_cmd = [sys.executable, "-m", "bench.prep_floor", str(floor_out),
                 *map(str, sorted(base.glob("*.csv")))]  # fmt: skip
    floor = run_measured(floor_cmd, env=env, cwd=REPO_ROOT, log_file=ws.logs / "floor.log")
    timings = {}
    for workers in (1, 2):
        out = root / f"parallel-{workers}"
        shutil.rmtree(out, ignore_errors=True)
        timings[workers] = run_measured(driver_command(base, out, workers), env=env, cwd=SRC,
                                        log_file=ws.logs / f"parallel-{workers}.log")  # fmt: skip
    details = {"rows_n": rows, "files_n": n_files, "rows_3n": 3 * rows, "files_3n": 3 * n_files,
               "csv_bytes_per_file": max(p.stat().st_size for p in base.glob("*.csv")),
               "cpu_count": os.cpu_count(), "load_average_1m": os.getloadavg()[0]}  # fmt: skip
    return [
        measured(
            "prep_rss_3x_data",
            "GB",
            "peak RSS of prep.py on N rows",
            large.peak_rss_bytes / GB,
            small.peak_rss_bytes / GB,
            _target("ratio", "<=", 1.2),
            details,
        ),
        measured(
            "parallel_speedup_2_workers",
            "x",
            "1 worker process (seconds over seconds)",
            timings[1].seconds / timings[2].seconds,
            1.0,
            _target("ours", ">=", 1.6),
            {
                **details,
                "seconds_1_worker": timings[1].seconds,
                "seconds_2_workers": timings[2].seconds,
            },
        ),
        measured(
            "prep_time_vs_floor",
            "s",
            "pyarrow CSV -> parquet of the same files",
            small.seconds,
            floor.seconds,
            _target("ratio", "<=", 2.0),
            {**details, "prep_3n_s": large.seconds},
        ),
    ]


def _target(on: str, op: str, value: float):
    from bench.results import Target

    return Target(on, op, value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000, help="N (default 10 million)")
    parser.add_argument("--quick", action="store_true", help="20,000 rows in 4 files")
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    rows = 20_000 if args.quick else args.rows
    files_per_kind = 2 if args.quick else max(2, rows // ROWS_PER_FILE_FULL // 2)
    command = " ".join(["python -m bench.prep_scale_bench", *(argv or sys.argv[1:])])
    machine = machine_info()
    root = args.workdir or Path(tempfile.mkdtemp(prefix="prep-scale-"))
    try:
        results = run(root.resolve(), rows, files_per_kind)
    finally:
        if args.workdir is None:
            shutil.rmtree(root, ignore_errors=True)
    write(document(results, command, "quick" if args.quick else "full", machine), args.output)
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
