"""Featurize step: the derived features the AutoML node trains on, as an mltable.

The Azure AutoML node (and FLAML in its place locally) learns from the columns it is
given; this step hands it the same derived features (trip duration, great-circle
distance, rate-card fare, ...) that ``DerivedFeatures`` computes inside every model, so
the packaged model (``package.py``) can put that stage in front of the winner.

    python featurize.py --train_data out/train --features_data out/features
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from taxi_fare.steps import run_step

log = logging.getLogger("featurize")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train_data", type=Path, required=True, help="prep's train split")
    parser.add_argument("--features_data", type=Path, required=True, help="output mltable folder")
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> int:
    from taxi_fare.automl import feature_table, write_feature_table
    from taxi_fare.split import read_split

    table = feature_table(read_split(args.train_data))
    write_feature_table(table, args.features_data)
    log.info(
        "wrote %s rows x %d feature columns (+ cost) to %s",
        f"{len(table):,}",
        table.shape[1] - 1,
        args.features_data,
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_step(lambda: run(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
