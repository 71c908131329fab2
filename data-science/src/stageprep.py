"""Stageprep step: the stage test set, newest trips by pickup time, disjoint from training.

    python stageprep.py --raw_data data/sample --exclude_data out/train \
        --stage_data out/stage

Writes ``stage_data/data.parquet`` (the 20 features + cost, the model's contract), an
``MLTable`` file, and ``stage_data/stage_report.json`` saying which rows were chosen
and why. How the slice is chosen: ``taxi_fare.stage`` and docs/promotion.md.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from taxi_fare.split import write_split
from taxi_fare.stage import build_stage_set
from taxi_fare.step_files import write_stage_report
from taxi_fare.steps import run_step

log = logging.getLogger("stageprep")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--raw_data",
        nargs="+",
        required=True,
        help="raw green/yellow CSVs or folders, or a feature table",
    )
    parser.add_argument(
        "--exclude_data",
        nargs="*",
        default=[],
        help="split folders (or parquet files) of the model's training rows, kept out",
    )
    parser.add_argument("--stage_data", type=Path, required=True)
    parser.add_argument("--newest_fraction", type=float, default=0.2)
    parser.add_argument("--min_rows", type=int, default=20)
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> int:
    stage = build_stage_set(args.raw_data, args.exclude_data, args.newest_fraction, args.min_rows)
    # Everything is validated above: only now touch the output folder.
    write_split(stage.table, args.stage_data)
    report = stage.report()
    write_stage_report(report, args.stage_data)
    log.info(
        "stage set: %s rows, pickups %s to %s (%s eligible of %s read; %s training rows excluded)",
        f"{len(stage.table):,}", report.pickup_from, report.pickup_to,
        f"{stage.eligible:,}", f"{stage.rows_read:,}", f"{stage.excluded:,}",
    )  # fmt: skip
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_step(lambda: run(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
