"""Combine step after the per-file prep parallel job: totals, drop-share check, split folders.

    python prep_combine.py --raw_data RAW --train_parts P/train --test_parts P/test \
        --file_summaries P/rows --train_data out/train --test_data out/test \
        --quality_report out/quality
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from prep import _fraction
from taxi_fare.combine import LAYOUTS, combine, read_summaries
from taxi_fare.ingest import InputError, expand_inputs, fingerprint
from taxi_fare.split import SplitSpec
from taxi_fare.steps import mlflow_run, run_step


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw_data", type=Path, required=True, help="the folder prepared")
    for name in ("train_parts", "test_parts", "file_summaries"):
        parser.add_argument(f"--{name}", type=Path, required=True)
    for name in ("train_data", "test_data", "quality_report"):
        parser.add_argument(f"--{name}", type=Path, required=True)
    parser.add_argument("--test_size", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--max_drop_fraction", type=_fraction, default=0.2)
    parser.add_argument("--layout", choices=LAYOUTS, default="parts")
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> int:
    spec = SplitSpec(args.seed, args.test_size)
    rows = sorted(p for p in args.file_summaries.rglob("*") if p.is_file())
    summaries = read_summaries(rows)
    # Each job mounts the raw folder at its own path: match the files by name.
    files = expand_inputs([args.raw_data])
    prepared = {Path(s.path).name for s in summaries}
    missing = [f for f in files if f.name not in prepared]
    if missing:
        raise InputError(f"{missing[0]}: not prepared by the per-file job (no summary row)")
    quality = combine(
        summaries,
        (args.train_parts, args.test_parts),
        (args.train_data, args.test_data, args.quality_report),
        spec,
        args.max_drop_fraction,
        fingerprint(files),
        source=str(args.raw_data),
        layout=args.layout,
    )
    import mlflow

    with mlflow_run("prep"):
        mlflow.log_params({"test_size": args.test_size, "seed": args.seed,
                           "split_method": spec.method, "input_files": len(summaries),
                           "max_drop_fraction": args.max_drop_fraction})  # fmt: skip
        mlflow.set_tag("data_fingerprint", quality.data_fingerprint)
        counts = ("rows_read", "rows_kept", "train_rows", "test_rows")
        mlflow.log_metrics({k: getattr(quality, k) for k in counts})
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_step(lambda: run(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
