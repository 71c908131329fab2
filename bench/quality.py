"""Model quality against the Azure mlops-v2 sample's RandomForest, on one 70/30 split.

    python -m bench.quality --rows 50000 --time-budget 60 --out bench/out/quality.json

Generated trips go through ``prep.py`` itself (its cleaning, the 20 features and its
row-hash split, 70/30 with one seed), and every model learns and is scored on its splits.
The baseline is the mlops-v2 ``train.py`` model (RandomForest, 500 trees, depth 10,
sqrt features, min leaf 4, min split 5) on the 20 columns as they are; it is compared
with ``train2.py`` (defaults) and the AutoML path of ``make train`` (featurize, FLAML with
the trials the budget plans and ``pipeline-automl.yml``'s ``limits.max_trials`` caps, its
vote ensemble as that node's ``enable_vote_ensemble`` says, then package). Reported as RMSE
ratios to the baseline, measured in the same run; each vote member's own test RMSE beside.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from taxi_fare.schema import FEATURES, TARGET
from taxi_fare.step_files import read_quality

log = logging.getLogger("bench.quality")

SRC = Path(__file__).resolve().parents[1] / "data-science" / "src"


def prepared(raw: Path, work: Path, seed: int) -> tuple[Any, Any, Any]:
    """(train, test, quality report) of ``raw`` as the prep step makes them, by running it."""
    from taxi_fare.split import read_split

    out = work / "prep"
    argv = [
        sys.executable, str(SRC / "prep.py"), "--raw_data", str(raw),
        "--train_data", str(out / "train"), "--test_data", str(out / "test"),
        "--quality_report", str(out / "quality"), "--test_size", "0.3", "--seed", str(seed),
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_RUN")}
    env["MLFLOW_TRACKING_URI"] = f"sqlite:///{work / 'mlflow.db'}"
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"prep.py failed on the generated trips: {done.stderr.strip()[-800:]}")
    return read_split(out / "train"), read_split(out / "test"), read_quality(out / "quality")


def _rmse(actual: np.ndarray, predicted: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.asarray(actual) - np.asarray(predicted)) ** 2)))


def measure(rows: int, seed: int, time_budget: int) -> dict:
    import yaml
    from sklearn.ensemble import RandomForestRegressor
    from taxi_fare.automl import feature_table, package, planned_trials, search
    from taxi_fare.models import random_forest_pipeline

    from mlops.datagen.generator import generate

    with tempfile.TemporaryDirectory(prefix="quality-") as tmp:
        raw = Path(tmp) / "raw"
        generate(rows, raw, seed=seed)
        train, test, quality = prepared(raw, Path(tmp), seed)
    x_train, y_train = train[list(FEATURES)], train[TARGET]
    x_test, y_test = test[list(FEATURES)], test[TARGET].to_numpy()

    results: dict[str, dict] = {}
    started = time.perf_counter()
    baseline = RandomForestRegressor(
        n_estimators=500,
        max_depth=10,
        max_features="sqrt",
        min_samples_leaf=4,
        min_samples_split=5,
        random_state=seed,
        n_jobs=-1,
    ).fit(x_train, y_train)
    results["baseline_mlops_v2_rf"] = {
        "rmse": _rmse(y_test, baseline.predict(x_test)),
        "fit_seconds": time.perf_counter() - started,
    }
    started = time.perf_counter()
    rf = random_forest_pipeline(seed=seed).fit(x_train, y_train)
    results["train2_rf"] = {
        "rmse": _rmse(y_test, rf.predict(x_test)),
        "fit_seconds": time.perf_counter() - started,
    }
    started = time.perf_counter()
    spec = Path(__file__).resolve().parents[1] / "mlops/azureml/train/pipeline-automl.yml"
    node = yaml.safe_load(spec.read_text())["jobs"]["train"]
    max_trials = node["limits"]["max_trials"]
    vote = bool(node["training"].get("enable_vote_ensemble", True))  # Azure's default: on
    derived = feature_table(train)
    columns = [c for c in derived.columns if c != TARGET]
    trials = planned_trials(time_budget, len(derived), max_trials)
    found = search(
        derived[columns],
        derived[TARGET],
        metric="rmse",
        estimators=["lgbm", "rf", "extra_tree"],
        trials=trials,
        seed=seed,
        vote_ensemble=vote,
    )
    packaged = package(found.model, columns, train)
    # Each member of a vote alone (already refitted on every row): what the vote adds.
    members = dict(zip(found.weights, getattr(found.model, "estimators_", []), strict=False))
    derived_test = feature_table(test)[columns]
    alone = {n: _rmse(y_test, m.predict(derived_test)) for n, m in members.items()}
    results["train_automl"] = {
        "rmse": _rmse(y_test, packaged.predict(x_test)),
        "fit_seconds": time.perf_counter() - started,
        "search_seconds": found.seconds,
        "estimator": found.estimator,
        "ensemble_weights": found.weights,
        "member_rmse": alone,
        "validation_loss": found.final_loss,
        "best_single_validation_loss": found.best_loss,
        "config": found.config,
        "trials": found.trials,
        "planned_trials": trials,
        "time_budget_seconds": time_budget,
    }
    base = results["baseline_mlops_v2_rf"]["rmse"]
    for name in ("train2_rf", "train_automl"):
        results[name]["rmse_ratio_to_baseline"] = results[name]["rmse"] / base
        results[name]["improvement_over_baseline"] = 1.0 - results[name]["rmse"] / base
    return {
        "data": {
            "generated_rows": rows,
            "seed": seed,
            "rows_after_cleaning": quality.rows_kept,
            "train_rows": len(train),
            "test_rows": len(test),
            "split": f"70/30 by prep.py ({quality.split['method']}, seed {seed})",
            "target_std": float(np.std(y_test)),
        },
        "targets": {
            "train2_rf": "improvement >= 0.30",
            "train_automl": "improvement >= 0.35 and rmse <= train2_rf rmse",
        },
        "results": results,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--time-budget", type=int, default=60)
    parser.add_argument("--out", type=Path, default=Path("bench/out/quality.json"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    report = measure(args.rows, args.seed, args.time_budget)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report["results"], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
