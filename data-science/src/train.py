"""Train step (AutoML): FLAML regression behind the derived-feature stage, as an MLflow model.

Arguments mirror Azure ML AutoML regression settings, so an Azure AutoML node maps
onto this script one to one:

    python train.py --train_data out/train --model_output out/model --time_budget_seconds 60
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from taxi_fare.schema import FEATURES, TARGET
from taxi_fare.steps import mlflow_run, run_step

log = logging.getLogger("train")


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not an integer") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value!r} must be at least 1")
    return number


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train_data", type=Path, required=True)
    parser.add_argument("--model_output", type=Path, required=True)
    parser.add_argument(
        "--primary_metric",
        default="normalized_root_mean_squared_error",
        help="Azure AutoML regression primary metric",
    )
    parser.add_argument(
        "--time_budget_seconds",
        type=_positive_int,
        default=60,
        help="search time budget (Azure: limits.timeout_minutes * 60)",
    )
    parser.add_argument(
        "--max_trials",
        type=_positive_int,
        default=None,
        help="maximum number of trials (Azure: limits.max_trials)",
    )
    parser.add_argument(
        "--allowed_algorithms",
        default="LightGBM,RandomForest,ExtremeRandomTrees",
        help="comma-separated Azure AutoML algorithm names",
    )
    parser.add_argument("--seed", type=int, default=42)
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> int:
    # Heavy imports here, not at the top: --help and argument errors answer at once.
    from taxi_fare.automl import search
    from taxi_fare.metrics import fit_metrics
    from taxi_fare.models import check_output_folder, flaml_estimators, flaml_metric, save_model
    from taxi_fare.split import read_split

    # Settings first: a wrong name fails before any data is read.
    metric = flaml_metric(args.primary_metric)
    estimators = flaml_estimators(args.allowed_algorithms)
    check_output_folder(args.model_output)
    train = read_split(args.train_data)
    X, y = train[list(FEATURES)], train[TARGET]  # noqa: N806 (sklearn naming)
    result = search(
        X,
        y,
        metric=metric,
        estimators=estimators,
        time_budget_seconds=args.time_budget_seconds,
        max_trials=args.max_trials,
        seed=args.seed,
    )
    train_metrics, scored = fit_metrics(result.pipeline, X, y, seed=args.seed)
    log.info(
        "best of %d trials: %s (validation loss %.4f); train RMSE %.3f (on %s rows)",
        result.trials,
        result.estimator,
        result.best_loss,
        train_metrics["root_mean_squared_error"],
        f"{scored:,}",
    )
    metadata = {
        "trainer": "automl",
        "estimator": result.estimator,
        "primary_metric": args.primary_metric,
    }
    save_model(result.pipeline, args.model_output, X, metadata)

    import mlflow

    with mlflow_run("train"):
        mlflow.log_params(
            {
                "trainer": "automl",
                "primary_metric": args.primary_metric,
                "time_budget_seconds": args.time_budget_seconds,
                "max_trials": args.max_trials,
                "allowed_algorithms": args.allowed_algorithms,
                "seed": args.seed,
                "train_rows": len(train),
                "train_metrics_rows": scored,
                "best_estimator": result.estimator,
            }
        )
        mlflow.log_params({f"best_{k}": v for k, v in result.config.items()})
        mlflow.log_metrics(
            {
                "trials": result.trials,
                "best_validation_loss": result.best_loss,
                **{f"train_{k}": v for k, v in train_metrics.items()},
            }
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_step(lambda: run(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
