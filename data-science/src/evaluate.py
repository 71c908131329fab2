"""Evaluate step: score the challenger and the registered champion on the same test rows, gate.

    python evaluate.py --model_input out/model --test_data out/test --evaluation_output out/eval

Writes ``metrics.json`` (the challenger on the whole test split), ``decision.json``,
``report.md`` and plots. The champion is the highest registered version of
``--model_name`` in the registry that ``MLFLOW_TRACKING_URI`` points at. The gate
compares both on the test rows the champion did not train on either (its split is
recomputed from its tags), and records how many that was. Nothing is registered here.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from taxi_fare.errors import TaxiFareError
from taxi_fare.gate import (
    DEFAULT_MIN_TEST_ROWS,
    METRICS_FILE,
    MODES,
    GatePolicy,
    check_judged_rows,
    decide,
    fail_closed,
    unseen_by_champion,
)
from taxi_fare.metrics import METRIC_NAMES, regression_metrics
from taxi_fare.registry import model_uuid
from taxi_fare.schema import FEATURES, TARGET
from taxi_fare.step_files import write_decision
from taxi_fare.steps import mlflow_run, run_step

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger("evaluate")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model_input", type=Path, required=True)
    parser.add_argument("--test_data", type=Path, required=True)
    parser.add_argument("--evaluation_output", type=Path, required=True)
    parser.add_argument("--model_name", default="taxi-fare")
    parser.add_argument("--gate_mode", choices=MODES, default="enforce")
    parser.add_argument("--primary_metric", choices=METRIC_NAMES, default="root_mean_squared_error")
    parser.add_argument(
        "--min_improvement",
        type=float,
        default=0.0,
        help="minimum absolute improvement of the primary metric",
    )
    parser.add_argument(
        "--min_relative_improvement",
        type=float,
        default=0.0,
        help="minimum improvement relative to the champion (0.02 = 2%%)",
    )
    parser.add_argument(
        "--guardrail_tolerance",
        type=float,
        default=0.05,
        help="relative worsening allowed on each guardrail metric",
    )
    parser.add_argument(
        "--min_test_rows",
        type=int,
        default=DEFAULT_MIN_TEST_ROWS,
        help="fail closed when fewer test rows are unseen by both models",
    )
    return parser.parse_args(argv)


@dataclass
class ChampionScore:
    """The champion scored on the rows neither model trained on, or why it could not be."""

    version: int | None = None
    metrics: dict[str, float] | None = None
    problem: str | None = None
    judged: pd.DataFrame | None = None
    split: dict[str, Any] | None = None


def _score_champion(name: str, test: pd.DataFrame, policy: GatePolicy) -> ChampionScore:
    import numpy as np
    from mlflow import MlflowClient
    from taxi_fare.models import load_model_uri
    from taxi_fare.registry import champion
    from taxi_fare.split import SplitSpec

    try:
        current = champion(MlflowClient(), name)
    except Exception as exc:  # the registry itself is unreachable or broken
        return ChampionScore(problem=f"cannot read the registry for {name!r}: {exc}")
    if current is None:
        return ChampionScore()
    score = ChampionScore(version=current.version)
    try:
        spec = SplitSpec.from_tags(current.tags)
        score.split = None if spec is None else spec.to_dict()
        mask = unseen_by_champion(test, current.tags)
    except TaxiFareError as exc:
        score.problem = f"champion version {current.version}: {exc}"
        return score
    score.judged = test[mask].reset_index(drop=True)
    score.problem = check_judged_rows(len(score.judged), len(test), policy)
    if score.problem:
        score.problem = f"champion version {current.version}: {score.problem}"
        return score
    try:
        predicted = load_model_uri(current.uri).predict(score.judged[list(FEATURES)])
        score.metrics = regression_metrics(score.judged[TARGET].to_numpy(), np.asarray(predicted))
    except Exception as exc:  # any failure to load or score the champion: fail closed
        score.problem = f"champion {current.uri} cannot be loaded or scored: {exc}"
    return score


def run(args: argparse.Namespace) -> int:
    # Heavy imports here, not at the top: --help and argument errors answer at once.
    import numpy as np
    from taxi_fare.models import feature_importance, load_model
    from taxi_fare.report import markdown, plot_importance, plot_predictions
    from taxi_fare.split import read_split, read_split_spec

    policy = GatePolicy(
        primary_metric=args.primary_metric,
        min_improvement=args.min_improvement,
        min_relative_improvement=args.min_relative_improvement,
        guardrail_tolerance=args.guardrail_tolerance,
        mode=args.gate_mode,
        min_test_rows=args.min_test_rows,
    )
    test = read_split(args.test_data)
    split = read_split_spec(args.test_data)
    model = load_model(args.model_input)
    features, actual = test[list(FEATURES)], test[TARGET].to_numpy()
    predicted = np.asarray(model.predict(features), dtype="float64")
    metrics = regression_metrics(actual, predicted)
    log.info(
        "challenger on %s test rows: %s",
        f"{len(test):,}",
        ", ".join(f"{k} {v:.4f}" for k, v in metrics.items()),
    )

    champion = _score_champion(args.model_name, test, policy)
    judged_rows = None if champion.judged is None else len(champion.judged)
    challenger_metrics = metrics
    if champion.judged is not None and judged_rows != len(test):
        log.info(
            "gate judges on %s of %s test rows: the champion trained on the other %s",
            f"{judged_rows:,}",
            f"{len(test):,}",
            f"{len(test) - judged_rows:,}",
        )
        if not champion.problem:
            judged_predicted = np.asarray(
                model.predict(champion.judged[list(FEATURES)]), dtype="float64"
            )
            challenger_metrics = regression_metrics(
                champion.judged[TARGET].to_numpy(), judged_predicted
            )
    if champion.problem:
        log.error("%s", champion.problem)
        decision = fail_closed(challenger_metrics, policy, champion.problem, champion.version)
    else:
        decision = decide(challenger_metrics, champion.metrics, policy, champion.version)
    decision = replace(
        decision,
        test_rows=len(test),
        judged_rows=judged_rows,
        split=split.to_dict(),
        champion_split=champion.split,
        challenger_model_uuid=model_uuid(args.model_input),
    )
    champion_metrics = champion.metrics
    log.info(
        "gate (%s): %s: %s",
        policy.mode,
        "promote" if decision.promote else "do not promote",
        decision.reason,
    )

    out = args.evaluation_output
    out.mkdir(parents=True, exist_ok=True)
    (out / METRICS_FILE).write_text(json.dumps(metrics, indent=2) + "\n")
    write_decision(decision, out)
    plots = plot_predictions(actual, predicted, out)
    raw = model.get_raw_model() if hasattr(model, "get_raw_model") else None
    importance = feature_importance(raw) if hasattr(raw, "named_steps") else None
    if importance is not None:
        plots.append(plot_importance(importance, out))
    (out / "report.md").write_text(markdown(decision, len(test), importance))

    import mlflow

    with mlflow_run("evaluate"):
        mlflow.log_metrics(metrics)
        if champion_metrics is not None:
            mlflow.log_metrics({f"champion_{k}": v for k, v in champion_metrics.items()})
        mlflow.log_params(
            {
                "gate_mode": policy.mode,
                "primary_metric": policy.primary_metric,
                "champion_version": champion.version,
                "min_test_rows": policy.min_test_rows,
            }
        )
        mlflow.set_tags(
            {"gate_promote": str(decision.promote).lower(), "gate_reason": decision.reason[:5000]}
        )
        mlflow.log_artifacts(str(out), artifact_path="evaluation")
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_step(lambda: run(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
