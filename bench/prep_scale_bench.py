"""Prep scale-out (issue 21): memory flat in the data size, workers, and the pyarrow floor.

    python -m bench.prep_scale_bench --rows 10000000 --output bench/results-prep-scale.json
    python -m bench.prep_scale_bench --quick --output /tmp/scale.json     # tiny, for a test

Three ratios, one run each (the machine is shared: read them with its load in mind; the
CPU seconds of each command, user + system, are in ``details`` beside the wall times):
- ``prep_rss_3x_data``: peak RSS of prep.py on 3N rows over prep.py on N rows, the 3N
  set generated on its own (another seed: distinct trips) with the same rows per file
  and three times the files; target <= 1.2.
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
import resource
import shutil
import sys
import tempfile
from pathlib import Path

from bench.procs import Measured, run_measured
from bench.results import BenchResult, Target, document, machine_info, measured, table, write
from bench.workspace import REPO_ROOT, SRC, Sizes, Workspace

log = logging.getLogger(__name__)
GB = 2**30
ROWS_PER_FILE_FULL = 1_000_000


def make_data(root: Path, rows: int, files_per_kind: int) -> tuple[Path, Path]:
    """The N set and the 3N set: generated with other seeds, the same rows per file."""
    from mlops.datagen.generator import generate

    sets = []
    for name, n, files, seed in (("raw", rows, files_per_kind, 7),
                                 ("raw-x3", 3 * rows, 3 * files_per_kind, 8)):  # fmt: skip
        folder = root / f"{name}-{rows}"
        if not (folder / ".complete").exists():
            shutil.rmtree(folder, ignore_errors=True)
            generate(n, folder, seed, files)
            (folder / ".complete").write_text("")
        sets.append(folder)
    return sets[0], sets[1]


def _cpu_seconds() -> float:
    """User + system CPU seconds of the children waited for so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(argv: list[str], **kwargs: object) -> tuple[Measured, float]:
    """``run_measured`` and the command's CPU seconds (user + system, all its threads)."""
    before = _cpu_seconds()
    result = run_measured(argv, **kwargs)  # type: ignore[arg-type]
    return result, _cpu_seconds() - before


def driver_command(raw: Path, out: Path, workers: int) -> list[str]:
    return [sys.executable, str(REPO_ROOT / "mlops/local/parallel.py"),
            "--entry_script", "prep_parallel.py", "--input_data", str(raw),
            "--mini_batch_size", "1", "--workers", str(workers), "--error_threshold", "0",
            "--append_row_to", str(out / "rows"), "--",
            "--train_parts", str(out / "train"), "--test_parts", str(out / "test")]  # fmt: skip


def run(root: Path, rows: int, files_per_kind: int) -> list[BenchResult]:
    ws = Workspace(root, Sizes.quick())
    ws.ensure_store()
    base, triple = make_data(root, rows, files_per_kind)
    n_files = len(list(base.glob("*.csv")))
    env = ws.env()
    cpu: dict[str, float] = {}
    load = {"load_average_1m_start": os.getloadavg()[0]}

    def prep(raw: Path, name: str) -> Measured:
        shutil.rmtree(ws.prep_out, ignore_errors=True)
        result, cpu[name] = timed(ws.prep_command(raw), env=env, log_file=ws.logs / f"{name}.log")
        return result

    floor_out = root / "floor"  # the floor, then prep on the same files: back to back
    shutil.rmtree(floor_out, ignore_errors=True)
    floor_cmd = [sys.executable, "-m", "bench.prep_floor", str(floor_out),
                 *map(str, sorted(base.glob("*.csv")))]  # fmt: skip
    floor, cpu["floor_n"] = timed(floor_cmd, env=env, cwd=REPO_ROOT, log_file=ws.logs / "floor.log")
    shutil.rmtree(floor_out, ignore_errors=True)
    small = prep(base, "prep_n")
    large = prep(triple, "prep_3n")
    timings = {}
    for workers in (1, 2):
        out = root / f"parallel-{workers}"
        shutil.rmtree(out, ignore_errors=True)
        timings[workers], cpu[f"parallel_{workers}"] = timed(
            driver_command(base, out, workers), env=env, cwd=SRC,
            log_file=ws.logs / f"parallel-{workers}.log",
        )  # fmt: skip
        shutil.rmtree(out, ignore_errors=True)
    load["load_average_1m_end"] = os.getloadavg()[0]
    details = {"rows_n": rows, "files_n": n_files, "rows_3n": 3 * rows,
               "files_3n": len(list(triple.glob("*.csv"))),
               "csv_bytes_per_file_max": max(p.stat().st_size for p in base.glob("*.csv")),
               "cpu_count": os.cpu_count(), **load,
               "cpu_seconds": {k: round(v, 2) for k, v in cpu.items()}}  # fmt: skip
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
            {
                **details,
                "prep_3n_s": large.seconds,
                "cpu_ratio": cpu["prep_n"] / cpu["floor_n"] if cpu["floor_n"] else None,
            },
        ),
    ]


def _target(on: str, op: str, value: float):
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
