"""Prep step: validate, merge and clean raw trips, engineer the 20 features, split.

    python prep.py --raw_data data/sample --train_data out/train --test_data out/test \
        --quality_report out/quality
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from taxi_fare.cleaning import check_drop_share, clean, top_reasons
from taxi_fare.ingest import read_inputs
from taxi_fare.split import seeded_split, write_split
from taxi_fare.steps import mlflow_run, run_step

log = logging.getLogger("prep")


def _fraction(value: str) -> float:
    try:
        share = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
    if not 0.0 <= share <= 1.0:
        raise argparse.ArgumentTypeError(f"{value!r} must be between 0 and 1")
    return share


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--raw_data",
        nargs="+",
        required=True,
        help="raw green/yellow CSV files or folders, or a feature-table CSV",
    )
    parser.add_argument("--train_data", type=Path, required=True)
    parser.add_argument("--test_data", type=Path, required=True)
    parser.add_argument("--quality_report", type=Path, required=True)
    parser.add_argument("--test_size", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--max_drop_fraction",
        type=_fraction,
        default=0.2,
        help="fail when more than this share of rows is dropped",
    )
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> int:
    trips, files, data_fingerprint = read_inputs(args.raw_data)
    rows_read = len(trips)
    result = clean(trips)
    check_drop_share(rows_read, result, args.max_drop_fraction, source=" ".join(args.raw_data))
    train, test = seeded_split(result.kept, args.test_size, args.seed)
    if result.rows_dropped:
        log.info(
            "dropped %s of %s rows: %s",
            f"{result.rows_dropped:,}",
            f"{rows_read:,}",
            top_reasons(result.dropped, limit=len(result.dropped)),
        )
    quality = {
        "files": [{"path": str(f.path), "kind": f.kind, "rows": f.rows} for f in files],
        "rows_read": rows_read,
        "dropped": result.dropped,
        "rows_kept": len(result.kept),
        "train_rows": len(train),
        "test_rows": len(test),
        "data_fingerprint": data_fingerprint,
    }
    # Everything is validated above: only now touch the output folders.
    write_split(train, args.train_data)
    write_split(test, args.test_data)
    args.quality_report.mkdir(parents=True, exist_ok=True)
    report = args.quality_report / "quality.json"
    report.write_text(json.dumps(quality, indent=2) + "\n")
    log.info(
        "kept %s rows: %s train, %s test; fingerprint %s",
        f"{len(result.kept):,}",
        f"{len(train):,}",
        f"{len(test):,}",
        data_fingerprint[:12],
    )

    import mlflow

    with mlflow_run("prep"):
        mlflow.log_params(
            {
                "test_size": args.test_size,
                "seed": args.seed,
                "max_drop_fraction": args.max_drop_fraction,
                "input_files": len(files),
            }
        )
        mlflow.set_tag("data_fingerprint", data_fingerprint)
        mlflow.log_metrics(
            {
                "rows_read": rows_read,
                "rows_kept": len(result.kept),
                "train_rows": len(train),
                "test_rows": len(test),
                **{f"dropped_{k}": v for k, v in result.dropped.items()},
            }
        )
        mlflow.log_artifact(str(report), artifact_path="quality")
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_step(lambda: run(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
