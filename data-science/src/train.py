"""Train step (AutoML): the local stand-in for the Azure AutoML regression node.

Like the node, it learns the target from every other column of the table it is given
(featurize.py's derived features in ``pipeline-automl.yml``) and writes the best model
as an MLflow model over those columns (the node's ``best_model``); ``package.py`` then
puts the derived-feature stage in front of it. Arguments mirror the node's settings:

    python train.py --train_data out/features --model_output out/best --time_budget_seconds 60

The search is reproducible: the time budget is turned into a number of trials
(``taxi_fare.automl.planned_trials``) and FLAML runs them without a clock.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from taxi_fare.schema import TARGET
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


def _boolean(value: str) -> bool:
    if value.lower() in ("true", "1"):
        return True
    if value.lower() in ("false", "0"):
        return False
    raise argparse.ArgumentTypeError(f"{value!r} is not true or false")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train_data", type=Path, required=True)
    parser.add_argument("--model_output", type=Path, required=True)
    parser.add_argument(
        "--target_column_name", default=TARGET, help="Azure AutoML target_column_name"
    )
    parser.add_argument(
        "--primary_metric",
        default="normalized_root_mean_squared_error",
        help="Azure AutoML regression primary metric",
    )
    parser.add_argument(
        "--time_budget_seconds",
        type=_positive_int,
        default=60,
        help="search effort in seconds of the reference machine, turned into a trial count "
        "(Azure: limits.timeout_minutes * 60)",
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
    parser.add_argument(
        "--enable_vote_ensemble",
        type=_boolean,
        default=False,
        help="true: the model is the Caruana-selected vote of each learner's best "
        "(Azure: training.enable_vote_ensemble)",
    )
    parser.add_argument("--seed", type=int, default=42)
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> int:
    # Heavy imports here, not at the top: --help and argument errors answer at once.
    from taxi_fare.automl import flaml_estimators, flaml_metric, planned_trials, search
    from taxi_fare.metrics import fit_metrics
    from taxi_fare.models import ModelError, check_output_folder, save_model
    from taxi_fare.split import read_split

    # Settings first: a wrong name fails before any data is read.
    metric = flaml_metric(args.primary_metric)
    estimators = flaml_estimators(args.allowed_algorithms)
    check_output_folder(args.model_output)
    table = read_split(args.train_data)
    if args.target_column_name not in table.columns:
        raise ModelError(
            f"{args.train_data}: target_column_name {args.target_column_name!r} is not a column"
        )
    columns = [c for c in table.columns if c != args.target_column_name]
    X, y = table[columns], table[args.target_column_name]  # noqa: N806 (sklearn naming)
    trials = planned_trials(args.time_budget_seconds, len(table), args.max_trials)
    result = search(
        X,
        y,
        metric=metric,
        estimators=estimators,
        trials=trials,
        seed=args.seed,
        vote_ensemble=args.enable_vote_ensemble,
    )
    train_metrics, scored = fit_metrics(result.model, X, y, seed=args.seed)
    log.info(
        "best of %d trials: %s %s (validation loss %.4f, best single %.4f) in %.0f s; "
        "train RMSE %.3f (on %s rows)",
        result.trials,
        result.estimator,
        result.weights,
        result.final_loss,
        result.best_loss,
        result.seconds,
        train_metrics["root_mean_squared_error"],
        f"{scored:,}",
    )
    if result.seconds > 2 * args.time_budget_seconds:
        log.warning(
            "AutoML: %d trials took %.0f s for a %d s budget: this machine is slower or "
            "busier than the reference one; the model is the same, only later",
            result.trials,
            result.seconds,
            args.time_budget_seconds,
        )
    metadata = {
        "trainer": "automl",
        "estimator": result.estimator,
        "ensemble_weights": ",".join(f"{n}:{w}" for n, w in result.weights.items()),
        "primary_metric": args.primary_metric,
    }
    save_model(result.model, args.model_output, X, metadata, columns=columns)

    import mlflow

    with mlflow_run("train"):
        mlflow.log_params(
            {
                "trainer": "automl",
                "primary_metric": args.primary_metric,
                "time_budget_seconds": args.time_budget_seconds,
                "max_trials": args.max_trials,
                "planned_trials": trials,
                "allowed_algorithms": args.allowed_algorithms,
                "seed": args.seed,
                "train_rows": len(table),
                "train_columns": len(columns),
                "train_metrics_rows": scored,
                "best_estimator": result.estimator,
                "enable_vote_ensemble": args.enable_vote_ensemble,
                "ensemble_weights": metadata["ensemble_weights"],
            }
        )
        mlflow.log_params({f"best_{k}": v for k, v in result.config.items()})
        mlflow.log_metrics(
            {
                "trials": result.trials,
                "search_seconds": result.seconds,
                "best_validation_loss": result.best_loss,
                "final_validation_loss": result.final_loss,
                **{f"train_{k}": v for k, v in train_metrics.items()},
            }
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_step(lambda: run(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
