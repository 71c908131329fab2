"""Evaluate step: score the challenger and the registered champion on the same test rows, gate.

    python evaluate.py --model_input out/model --test_data out/test --evaluation_output out/eval

Writes ``metrics.json``, ``decision.json``, ``report.md`` and plots. The champion is
the highest registered version of ``--model_name`` in the registry that
``MLFLOW_TRACKING_URI`` points at. Nothing is registered here.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from taxi_fare.gate import METRICS_FILE, MODES, GatePolicy, decide, fail_closed, write_decision
from taxi_fare.metrics import METRIC_NAMES, regression_metrics
from taxi_fare.registry import model_uuid
from taxi_fare.schema import FEATURES, TARGET
from taxi_fare.steps import mlflow_run, run_step

if TYPE_CHECKING:
    import numpy as np
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
    return parser.parse_args(argv)


def _champion_metrics(
    name: str, features: pd.DataFrame, actual: np.ndarray
) -> tuple[dict[str, float] | None, int | None, str | None]:
    """(metrics, version, problem): the champion scored on the test rows, or why it was not."""
    import numpy as np
    from mlflow import MlflowClient
    from taxi_fare.models import load_model_uri
    from taxi_fare.registry import champion

    try:
        current = champion(MlflowClient(), name)
    except Exception as exc:  # the registry itself is unreachable or broken
        return None, None, f"cannot read the registry for {name!r}: {exc}"
    if current is None:
        return None, None, None
    try:
        predicted = load_model_uri(current.uri).predict(features)
        return regression_metrics(actual, np.asarray(predicted)), current.version, None
    except Exception as exc:  # any failure to load or score the champion: fail closed
        return None, current.version, f"champion {current.uri} cannot be loaded or scored: {exc}"


def run(args: argparse.Namespace) -> int:
    # Heavy imports here, not at the top: --help and argument errors answer at once.
    import numpy as np
    from taxi_fare.models import feature_importance, load_model
    from taxi_fare.report import markdown, plot_importance, plot_predictions
    from taxi_fare.split import read_split

    policy = GatePolicy(
        primary_metric=args.primary_metric,
        min_improvement=args.min_improvement,
        min_relative_improvement=args.min_relative_improvement,
        guardrail_tolerance=args.guardrail_tolerance,
        mode=args.gate_mode,
    )
    test = read_split(args.test_data)
    model = load_model(args.model_input)
    features, actual = test[list(FEATURES)], test[TARGET].to_numpy()
    predicted = np.asarray(model.predict(features), dtype="float64")
    metrics = regression_metrics(actual, predicted)
    log.info(
        "challenger on %s test rows: %s",
        f"{len(test):,}",
        ", ".join(f"{k} {v:.4f}" for k, v in metrics.items()),
    )

    champion_metrics, champion_version, problem = _champion_metrics(
        args.model_name, features, actual
    )
    if problem:
        log.error("%s", problem)
        decision = fail_closed(metrics, policy, problem, champion_version)
    else:
        decision = decide(metrics, champion_metrics, policy, champion_version)
    log.info(
        "gate (%s): %s: %s",
        policy.mode,
        "promote" if decision.promote else "do not promote",
        decision.reason,
    )

    out = args.evaluation_output
    out.mkdir(parents=True, exist_ok=True)
    (out / METRICS_FILE).write_text(json.dumps(metrics, indent=2) + "\n")
    write_decision(decision, out, {"challenger_model_uuid": model_uuid(args.model_input)})
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
                "champion_version": champion_version,
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
