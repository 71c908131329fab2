"""Train2 step: a RandomForest behind the derived-feature stage, saved as an MLflow model.

python train2.py --train_data out/train --model_output out/model
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from taxi_fare.forest_params import RF_DEFAULTS
from taxi_fare.schema import FEATURES, TARGET
from taxi_fare.steps import mlflow_run, run_step

log = logging.getLogger("train2")


def _max_features(value: str) -> float | str:
    """A share of the features (0-1], or one of sklearn's names (sqrt, log2)."""
    if value in ("sqrt", "log2"):
        return value
    try:
        share = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number, sqrt or log2") from None
    if not 0.0 < share <= 1.0:
        raise argparse.ArgumentTypeError(f"{value!r} must be in (0, 1]")
    return share


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train_data", type=Path, required=True)
    parser.add_argument("--model_output", type=Path, required=True)
    parser.add_argument("--n_estimators", type=int, default=RF_DEFAULTS.n_estimators)
    parser.add_argument("--max_depth", type=int, default=RF_DEFAULTS.max_depth)
    parser.add_argument("--min_samples_leaf", type=int, default=RF_DEFAULTS.min_samples_leaf)
    parser.add_argument("--min_samples_split", type=int, default=RF_DEFAULTS.min_samples_split)
    parser.add_argument("--max_features", type=_max_features, default=RF_DEFAULTS.max_features)
    parser.add_argument("--seed", type=int, default=RF_DEFAULTS.seed)
    parser.add_argument(
        "--max_train_rows",
        type=int,
        default=0,
        help="fit on a seeded, stable sample of about this many rows (0: all)",
    )
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> int:
    # Heavy imports here, not at the top: --help and argument errors answer at once.
    from taxi_fare.metrics import fit_metrics
    from taxi_fare.models import check_output_folder, random_forest_pipeline, save_model
    from taxi_fare.sample import read_sample

    check_output_folder(args.model_output)
    train = read_sample(args.train_data, args.max_train_rows, args.seed)
    X, y = train[list(FEATURES)], train[TARGET]  # noqa: N806 (sklearn naming)
    params = {
        k: getattr(args, k)
        for k in (
            "n_estimators",
            "max_depth",
            "min_samples_leaf",
            "min_samples_split",
            "max_features",
            "seed",
        )
    }
    pipeline = random_forest_pipeline(**params)
    pipeline.fit(X, y)
    train_metrics, scored = fit_metrics(pipeline, X, y, seed=args.seed)
    log.info(
        "fitted RandomForest on %s rows: train RMSE %.3f (on %s of them)",
        f"{len(train):,}",
        train_metrics["root_mean_squared_error"],
        f"{scored:,}",
    )
    save_model(
        pipeline, args.model_output, X, {"trainer": "rf", **{k: str(v) for k, v in params.items()}}
    )

    import mlflow

    with mlflow_run("train2"):
        mlflow.log_params(
            {**params, "trainer": "rf", "train_rows": len(train), "train_metrics_rows": scored}
        )
        mlflow.log_metrics({f"train_{k}": v for k, v in train_metrics.items()})
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_step(lambda: run(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
