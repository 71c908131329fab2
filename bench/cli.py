"""``python -m bench [--full] [--only NAME ...]``: run the benches, write JSON, print a table.

Quick mode finishes in a few minutes on 2 cores; ``--full`` runs prep on 10 million rows.
A bench that fails is reported as "not measured" with its reason; the others still run.

The results file holds the figures of one run. A partial run (``--only``) therefore
writes a file only when ``--output`` names one: it never replaces the committed
``bench/results.json`` with a subset, nor mixes figures from different runs into it.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import shutil
import sys
import tempfile
import time
from pathlib import Path

from bench.results import BenchResult, document, machine_info, not_measured, table, write
from bench.workspace import REPO_ROOT, Sizes, Workspace

log = logging.getLogger("bench")

#: Bench name -> (module, rows it reports: (name, unit, reference) for a "not measured" row).
BENCHES: dict[str, tuple[str, tuple[tuple[str, str, str], ...]]] = {
    "validate": ("bench.validate_bench", (("validate_time", "s", "mlops CLI start-up"),)),
    "pipeline": ("bench.pipeline_bench", (("pipeline_time", "s", "sum of step times"),)),
    "prep": ("bench.prep_bench", (("prep_time", "s", "pyarrow CSV -> parquet"),
                                  ("prep_peak_rss", "GB", "pyarrow floor RSS"))),
    "train": ("bench.train_bench", (("train2_time", "s", "bare sklearn fit"),)),
    "batch": ("bench.batch_bench", (("batch_rows_per_s", "rows/s", "in-memory predict"),)),
    "online": ("bench.online_bench", (("online_rps_vs_noop", "req/s", "no-op score.py"),
                                      ("online_automl_rps_vs_noop", "req/s", "no-op score.py"),
                                      ("online_rps_vs_mlflow", "req/s", "mlflow models serve"),
                                      ("online_p99", "ms", "no-op score.py p99"),
                                      ("online_automl_p99", "ms", "no-op score.py p99"))),
    "collect": ("bench.collect_bench", (("collect_rps_vs_noop", "req/s", "no-op score.py"),
                                        ("collect_rps_vs_off", "req/s", "no collection"))),
}  # fmt: skip
DEFAULT_OUTPUT = REPO_ROOT / "bench" / "results.json"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="10 million raw rows (slow)")
    parser.add_argument("--only", action="append", choices=list(BENCHES), metavar="NAME",
                        help=f"run only this bench (repeatable): {', '.join(BENCHES)}")  # fmt: skip
    parser.add_argument("--output", type=Path, default=None,
                        help="results file (default: bench/results.json for a complete run; "
                        "with --only, nothing is written unless given)")  # fmt: skip
    parser.add_argument("--workdir", type=Path, default=None,
                        help="keep data and outputs here (default: a temp folder)")  # fmt: skip
    return parser.parse_args(argv)


def output_path(args: argparse.Namespace) -> Path | None:
    """Where the results go: ``--output``, else the default file unless the run is partial."""
    if args.output is not None:
        return args.output
    return None if args.only else DEFAULT_OUTPUT


def run_bench(name: str, ws: Workspace) -> list[BenchResult]:
    """Run one bench; any failure becomes "not measured" rows carrying the reason."""
    module_name, rows = BENCHES[name]
    started = time.perf_counter()
    try:
        results = importlib.import_module(module_name).run(ws)
    except Exception as exc:  # a bench that cannot run must not hide the others
        log.exception("bench %s failed", name)
        reason = f"{type(exc).__name__}: {exc}".strip()
        results = [not_measured(n, unit, ref, reason) for n, unit, ref in rows]
    log.info("bench %s took %.0f s", name, time.perf_counter() - started)
    return results


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    for noisy in ("mlflow", "alembic", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    sizes = Sizes.full() if args.full else Sizes.quick()
    names = args.only or list(BENCHES)
    command = " ".join(["python -m bench", *(sys.argv[1:] if argv is None else argv)])
    machine = machine_info()
    temp = None
    if args.workdir is None:
        temp = tempfile.mkdtemp(prefix="taxi-fare-bench-")
    ws = Workspace(Path(args.workdir or temp).resolve(), sizes)
    try:
        results = [row for name in names for row in run_bench(name, ws)]
    finally:
        if temp is not None:
            shutil.rmtree(temp, ignore_errors=True)
    output = output_path(args)
    if output is not None:
        write(document(results, command, sizes.mode, machine), output)
    print(table(results))
    print(f"\n{sizes.mode} mode on {machine['cpu_count']} x {machine['cpu_model']}, "
          f"{machine['ram_gb']} GB RAM, Python {machine['python']}")  # fmt: skip
    if output is None:
        print("partial run (--only): not written; pass --output FILE to keep the figures "
              "(bench/results.json holds complete runs only)")  # fmt: skip
    else:
        print(f"written to {output}")
    return 0
