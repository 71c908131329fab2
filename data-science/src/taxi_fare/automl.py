"""AutoML with FLAML, the local stand-in for the Azure AutoML node, and its packaging.

The pipeline is the same on Azure and locally (``pipeline-automl.yml``):

    featurize (derived features)  ->  AutoML node / FLAML (best model on those columns)
      ->  package (best model behind the derived-feature stage, 20-column signature)

The search is reproducible: FLAML runs with no clock (``time_budget=-1``) for a number
of trials, so the same table, settings and seed give the same model on any machine, at
any load. The time budget only decides how many trials: ``planned_trials`` turns seconds
into trials with a per-trial cost measured once on the reference machine.
"""

from __future__ import annotations

import logging
import math
import re
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.pipeline import Pipeline

from taxi_fare.features import DerivedFeatures
from taxi_fare.models import ModelError
from taxi_fare.schema import FEATURES, TARGET

log = logging.getLogger(__name__)

#: Azure AutoML regression algorithms (azure-ai-ml ``RegressionModels``) -> the FLAML learner
#: the local stand-in runs for each, or None where FLAML has none whose models the scoring
#: environment loads: those are refused locally. The one table of both the local trainer
#: (``flaml_estimators``) and the node mapping (``mlops.local.automl``).
AZURE_REGRESSION_MODELS: dict[str, str | None] = {
    "LightGBM": "lgbm",
    "RandomForest": "rf",
    "ExtremeRandomTrees": "extra_tree",
    # sklearn's histogram gradient boosting, FLAML's closest learner.
    "GradientBoosting": "histgb",
    "ElasticNet": None,
    "DecisionTree": None,
    "KNN": None,
    "LassoLars": None,
    "SGD": None,
    # FLAML has an xgboost learner, but its models would need xgboost in the scoring
    # environment; the template keeps scoring to scikit-learn and LightGBM.
    "XGBoostRegressor": None,
}
#: Azure AutoML regression primary metrics -> FLAML metric. Normalising by the target's
#: range does not change which model is best, so the normalised variants map to the plain one.
AZURE_METRICS: dict[str, str] = {
    "normalized_root_mean_squared_error": "rmse",
    "root_mean_squared_error": "rmse",
    "normalized_mean_absolute_error": "mae",
    "mean_absolute_error": "mae",
    "r2_score": "r2",
    "spearman_correlation": "spearman",
}


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def azure_algorithm(name: str) -> str:
    """Azure's spelling of an algorithm (``light_gbm`` or ``lightgbm`` -> ``LightGBM``).

    A ModelError for a name Azure does not know, or one FLAML cannot stand in for.
    """
    for canonical, learner in AZURE_REGRESSION_MODELS.items():
        if name.strip() in (canonical, _snake(canonical), canonical.lower()):
            if learner is None:
                raise ModelError(
                    f"AutoML algorithm '{name}' has no local (FLAML) equivalent; "
                    f"supported locally: {', '.join(supported_algorithms())}"
                )
            return canonical
    raise ModelError(f"unknown AutoML regression algorithm '{name}'")


def supported_algorithms() -> list[str]:
    """The Azure algorithm names the local FLAML stand-in runs, in table order."""
    return [name for name, learner in AZURE_REGRESSION_MODELS.items() if learner]


def flaml_estimators(allowed: str | Iterable[str]) -> list[str]:
    """FLAML estimator list from Azure names (comma-separated or a list), order kept."""
    names = [n.strip() for n in allowed.split(",")] if isinstance(allowed, str) else list(allowed)
    names = [n for n in names if n]
    if not names:
        raise ModelError(
            "allowed_algorithms is empty: name at least one of " + ", ".join(supported_algorithms())
        )
    out: list[str] = []
    for name in names:
        try:
            learner = AZURE_REGRESSION_MODELS[azure_algorithm(name)]
        except ModelError as exc:
            raise ModelError(f"allowed_algorithms: {exc}") from None
        if learner is not None and learner not in out:
            out.append(learner)
    return out


def spearman_loss(
    X_val: pd.DataFrame,  # noqa: N803 (FLAML's signature)
    y_val: pd.Series | np.ndarray,
    estimator: Any,
    *args: Any,
    **kwargs: Any,
) -> tuple[float, dict[str, float]]:
    """FLAML custom metric: 1 - Spearman rank correlation (lower is better)."""
    predicted = pd.Series(estimator.predict(X_val)).rank().to_numpy()
    actual = pd.Series(np.asarray(y_val)).rank().to_numpy()
    rho = float(np.corrcoef(actual, predicted)[0, 1]) if np.std(predicted) > 0 else 0.0
    return 1.0 - rho, {"spearman_correlation": rho}


def flaml_metric(primary_metric: str) -> str | Callable[..., tuple[float, dict[str, float]]]:
    """FLAML ``metric`` argument for an Azure primary metric name."""
    if primary_metric not in AZURE_METRICS:
        raise ModelError(
            f"primary_metric: {primary_metric!r} is not an Azure AutoML regression metric; "
            f"supported: {', '.join(AZURE_METRICS)}"
        )
    mapped = AZURE_METRICS[primary_metric]
    return spearman_loss if mapped == "spearman" else mapped


#: Seconds one trial takes per 1,000 training rows, the mean over the search a 60 s budget
#: plans on bench.quality's 33,718 rows (LightGBM, RandomForest and ExtraTrees learners from
#: their starting points below, 47 derived columns, one thread): its first 22 trials took
#: 57.6 s of trial time on the reference machine (2 shared AMD EPYC cores, load below 1,
#: 2026-12-02). Trials start cheap and grow as the search moves to larger models (the 41
#: trials the former 0.035 planned took 150 s), so this is a mean, not a bound.
TRIAL_SECONDS_PER_1K_ROWS = 0.07
#: Fixed cost of a trial (model set-up, validation scoring), measured alongside.
TRIAL_SECONDS_FIXED = 0.25
#: Fewest trials a search plans: every learner's starting point plus a few steps.
MIN_TRIALS = 8
#: FLAML holdout share for validation; 'auto' would pick cross-validation when there is no
#: clock (flaml/automl/automl.py AutoML._decide_eval_method), five times the cost.
HOLDOUT_RATIO = 0.1
#: Trees of a forest winner's final fit. FLAML compares forests with few trees (cheap
#: trials); more trees only average out the variance of the same forest (Breiman 2001:
#: a random forest does not overfit as trees are added), so the refit on all rows grows it.
FOREST_TREES = 64
_FORESTS = ("rf", "extra_tree")
#: Where the forests' search starts: FLAML's own start (4 trees of 4 leaves) is so small
#: that a search of tens of trials never reaches the few hundred leaves trips need (on
#: bench.quality's 33,718 rows ExtraTrees reached 236 leaves only after ~30 of 60 trials).
FOREST_START_LEAVES = 256
FOREST_START_TREES = 8
#: Where LightGBM's search starts: FLAML's own start (4 trees of 4 leaves) needs most of a
#: 41-trial search to reach boosting that competes (bench.quality's 33,718 rows: the best
#: LightGBM after 41 trials, 76 trees of 10 leaves, validated at 2.269). 100 trees of 15
#: leaves at FLAML's default learning rate (0.1) validated at 2.258 on the same holdout in
#: 0.8 CPU seconds, inside the budget's per-trial cost.
LGBM_START_TREES = 100
LGBM_START_LEAVES = 15
#: Azure AutoML's vote ensemble (``training.enable_vote_ensemble``, on by default): the
#: Caruana ensemble selection with sorted initialisation (Microsoft Learn, "What is automated
#: machine learning?", Ensemble models): the ensemble starts with up to five of the best
#: models within 5% of the best score, then each iteration adds (with replacement) the model
#: that improves the validation score most, while one does; the weights are the counts.
ENSEMBLE_ITERATIONS = 15
ENSEMBLE_START_MODELS = 5
ENSEMBLE_START_TOLERANCE = 0.05
#: Vote candidates per learner: its best configurations by validation loss, not its best
#: alone. Azure's vote ensemble chooses among all the iterations it ran (Microsoft Learn,
#: "What is automated machine learning?", Ensemble models); on bench.quality's 33,718 rows
#: the three best of each learner gave test RMSE 2.3216 against 2.3298 for the best alone
#: (five: 2.3252; every trial: 2.3221 with three times the nodes).
VOTE_CANDIDATES_PER_LEARNER = 3


@dataclass(frozen=True)
class SearchResult:
    """The best estimator (refitted on all rows of the table FLAML searched) and its trail."""

    model: Any
    estimator: str
    config: dict[str, Any]
    best_loss: float
    trials: int
    seconds: float
    #: Learner -> weight in the vote ensemble (one learner: no ensemble, the winner alone).
    weights: dict[str, int] = field(default_factory=dict)
    #: Validation loss of the final model (the ensemble's, or the winner's).
    final_loss: float = math.nan


def planned_trials(time_budget_seconds: int, rows: int, max_trials: int | None = None) -> int:
    """Trials that fit ``time_budget_seconds`` on ``rows`` rows on the reference machine.

    A function of its arguments only: a slower or busier machine runs the same trials for
    longer instead of fewer trials, so it trains the same model. ``max_trials`` (the
    AutoML node's ``limits.max_trials``) caps the plan.
    """
    per_trial = TRIAL_SECONDS_FIXED + TRIAL_SECONDS_PER_1K_ROWS * rows / 1000.0
    trials = max(MIN_TRIALS, math.floor(time_budget_seconds / per_trial))
    return trials if max_trials is None else min(trials, max_trials)


def forest_start(rows: int) -> dict[str, Any]:
    """FLAML starting point of the rf and extra_tree searches for ``rows`` training rows.

    At most one leaf per 64 rows, and inside FLAML's own domain (flaml/automl/model.py
    RandomForestEstimator.search_space: max_leaves up to rows / 2).
    """
    leaves = max(4, min(FOREST_START_LEAVES, rows // 64))
    return {"n_estimators": FOREST_START_TREES, "max_features": 1.0, "max_leaves": leaves}


def lgbm_start(rows: int) -> dict[str, Any]:
    """FLAML starting point of the LightGBM search for ``rows`` training rows.

    Inside FLAML's own domain (flaml/automl/model.py LGBMEstimator.search_space:
    n_estimators and num_leaves from 4 up to the row count), at most one leaf per 64 rows.
    """
    return {
        "n_estimators": max(4, min(LGBM_START_TREES, rows)),
        "num_leaves": max(4, min(LGBM_START_LEAVES, rows // 64)),
        "learning_rate": 0.1,
    }


def search_settings(
    metric: str | Callable[..., Any], estimators: list[str], trials: int, seed: int, rows: int = 0
) -> dict[str, Any]:
    """FLAML ``AutoML.fit`` settings of a clock-free search of ``trials`` trials.

    ``time_budget=-1`` is FLAML's no-clock mode (FLAML 2.7, flaml/automl/state.py
    AutoMLState._compute_with_config_base passes no per-trial budget, so LightGBM is not
    cut short by its time callback; SearchState counts a trial as cost 1 instead of its
    seconds; BlendSearch's cost_attr becomes None; learners are chosen by that count).
    """
    return {
        "task": "regression",
        "metric": metric,
        "estimator_list": estimators,
        "time_budget": -1,
        "max_iter": trials,
        # search() passes the holdout rows (X_val), so the vote ensemble is chosen on them.
        "eval_method": "holdout",
        # One thread per trial: on a shared machine two threads per trial contend with
        # every other process (LightGBM measured 7x slower with n_jobs=2 at load 8 on 2 cores).
        "n_jobs": 1,
        "seed": seed,
        "verbose": 0,
        "log_file_name": "",
        "retrain_full": False,  # search() refits the winner on every row once
        # A documented FLAML setting: the first trial of a learner, where its search starts.
        "starting_points": {
            **{e: forest_start(rows) for e in estimators if e in _FORESTS},
            **({"lgbm": lgbm_start(rows)} if "lgbm" in estimators else {}),
        },
    }


def holdout_rows(rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded (fit, validation) row positions: ``HOLDOUT_RATIO`` of ``rows`` validate."""
    order = np.random.default_rng(seed).permutation(rows)
    held = max(1, round(rows * HOLDOUT_RATIO))
    return np.sort(order[held:]), np.sort(order[:held])


def validation_loss(
    metric: str | Callable[..., Any], actual: np.ndarray, predicted: np.ndarray
) -> float:
    """The search metric as a loss (lower is better) of ``predicted`` on validation rows."""
    actual, predicted = np.asarray(actual, "float64"), np.asarray(predicted, "float64")
    if metric == "rmse":
        return float(np.sqrt(np.mean((actual - predicted) ** 2)))
    if metric == "mae":
        return float(np.mean(np.abs(actual - predicted)))
    if metric == "r2":
        total = float(np.sum((actual - np.mean(actual)) ** 2)) or 1.0
        return float(np.sum((actual - predicted) ** 2)) / total  # 1 - r2
    if callable(metric):
        return float(metric(pd.DataFrame({"p": predicted}), actual, _Fixed(predicted))[0])
    raise ModelError(f"no validation loss for metric {metric!r}")


class _Fixed:
    """An 'estimator' whose predictions are given: FLAML custom metrics call ``predict``."""

    def __init__(self, predicted: np.ndarray) -> None:
        self.predicted = predicted

    def predict(self, X: Any) -> np.ndarray:  # noqa: N803 (sklearn naming)
        return self.predicted


def ensemble_selection(
    predictions: dict[str, np.ndarray], actual: np.ndarray, metric: str | Callable[..., Any]
) -> dict[str, int]:
    """Caruana selection over ``predictions`` (name -> validation predictions): the weights.

    Deterministic: candidates are ranked by loss, ties by name; an iteration that improves
    nothing ends the selection.
    """
    losses = {n: validation_loss(metric, actual, p) for n, p in predictions.items()}
    ranked = sorted(losses, key=lambda n: (losses[n], n))
    best = losses[ranked[0]]
    start = [
        n
        for n in ranked[:ENSEMBLE_START_MODELS]
        if losses[n] <= best * (1 + ENSEMBLE_START_TOLERANCE)
    ]
    counts = dict.fromkeys(start, 1)
    total = np.sum([predictions[n] for n in start], axis=0)
    size, current = len(start), validation_loss(metric, actual, total / len(start))
    for _ in range(ENSEMBLE_ITERATIONS):
        trial = {
            n: validation_loss(metric, actual, (total + predictions[n]) / (size + 1))
            for n in ranked
        }
        pick = min(ranked, key=lambda n: (trial[n], ranked.index(n)))
        if trial[pick] >= current:
            break
        counts[pick] = counts.get(pick, 0) + 1
        total, size, current = total + predictions[pick], size + 1, trial[pick]
    return counts


def logged_trials(path: Path) -> list[tuple[str, dict[str, Any], float, int]]:
    """(learner, config, validation loss, record id) of every trial in a FLAML log.

    FLAML writes one JSON line a trial with ``log_type="all"`` (flaml/automl/logger.py
    ``TrainingLogWriter.append``) and a closing line without a learner, skipped here.
    """
    import json

    trials = []
    for line in path.read_text().splitlines():
        record = json.loads(line)
        if "learner" in record and math.isfinite(record.get("validation_loss", math.inf)):
            trials.append(
                (
                    str(record["learner"]),
                    dict(record["config"]),
                    float(record["validation_loss"]),
                    int(record["record_id"]),
                )
            )
    return trials


def vote_candidates(
    trials: list[tuple[str, dict[str, Any], float, int]], learners: list[str], per_learner: int
) -> list[tuple[str, str, dict[str, Any]]]:
    """(member name, learner, config) of each learner's ``per_learner`` best trials.

    The best keeps the learner's name (``lgbm``), the next are ``lgbm_2``, ``lgbm_3``; equal
    losses rank by trial order, and a configuration tried twice counts once.
    """
    out = []
    for learner in learners:
        seen: list[dict[str, Any]] = []
        ranked = sorted((t for t in trials if t[0] == learner), key=lambda t: (t[2], t[3]))
        for _, config, _, _ in ranked:
            if config not in seen and len(seen) < per_learner:
                seen.append(config)
                rank = len(seen)
                out.append((learner if rank == 1 else f"{learner}_{rank}", learner, config))
    return out


def _final(estimator: Any) -> Any:
    """A fresh clone for the refit on all rows; a forest with at least ``FOREST_TREES`` trees."""
    from sklearn.ensemble import ExtraTreesRegressor, RandomForestRegressor

    model = clone(estimator)
    if isinstance(model, RandomForestRegressor | ExtraTreesRegressor):
        model.set_params(n_estimators=max(FOREST_TREES, model.get_params()["n_estimators"]))
    return model


def search(
    X: pd.DataFrame,  # noqa: N803 (sklearn naming)
    y: pd.Series,
    metric: str | Callable[..., Any],
    estimators: list[str],
    trials: int,
    seed: int,
    vote_ensemble: bool = False,
) -> SearchResult:
    """Search ``estimators`` for ``trials`` trials on the columns of ``X`` as they are.

    Like the Azure AutoML node, FLAML learns from every column it is given (the derived
    features, written by ``featurize.py``), validating on a seeded holdout. With
    ``vote_ensemble`` (the node's ``enable_vote_ensemble``) each learner's
    ``VOTE_CANDIDATES_PER_LEARNER`` best configurations are candidates of the Caruana
    selection on that holdout, and the model is the weighted vote of the chosen ones; else
    the winner alone. The final model is refitted on all rows
    (forests with at least ``FOREST_TREES`` trees).
    """
    from flaml import AutoML  # slow import, only when a search runs
    from sklearn.ensemble import VotingRegressor

    automl = AutoML()
    log.info(
        "AutoML: %d trials over %s on %s rows x %d columns (no clock: reproducible)",
        trials,
        ", ".join(estimators),
        f"{len(X):,}",
        X.shape[1],
    )
    started = time.monotonic()
    target = y.to_numpy(dtype="float64")
    fit, held = holdout_rows(len(X), seed)
    X_fit, X_held = X.iloc[fit], X.iloc[held]  # noqa: N806 (sklearn naming)
    settings = search_settings(metric, estimators, trials, seed, rows=len(fit))
    with tempfile.TemporaryDirectory(prefix="flaml-") as tmp:
        trial_log = Path(tmp) / "trials.log"
        if vote_ensemble:  # every trial logged: the vote's candidates (no effect on the search)
            settings.update(log_file_name=str(trial_log), log_type="all")
        automl.fit(X_train=X_fit, y_train=target[fit], X_val=X_held, y_val=target[held], **settings)
        tried = logged_trials(trial_log) if vote_ensemble else []
    if automl.model is None or automl.best_estimator is None:
        raise ModelError(f"AutoML found no model in {trials} trials; raise the time budget")
    winner = str(automl.best_estimator)
    members = {winner: automl.model.estimator}
    for name, learner, config in vote_candidates(tried, estimators, VOTE_CANDIDATES_PER_LEARNER):
        found = automl.best_model_for_estimator(learner)
        if name != winner and found is not None:
            # FLAML keeps only the winner trained; the others as their settings, built by
            # the learner's own FLAML class as the search built them.
            config_of = type(found)(task="regression", n_jobs=1, **config)
            members[name] = config_of.estimator_class(**config_of.params)
    weights, final_loss = {winner: 1}, float(automl.best_loss)
    if len(members) > 1:
        # Validation predictions of clones fitted on the fit rows, on every column as the
        # final refit sees them (FLAML drops constant columns before its own fits).
        predictions = {
            name: np.asarray(clone(m).fit(X_fit, target[fit]).predict(X_held), "float64")
            for name, m in members.items()
        }
        weights = ensemble_selection(predictions, target[held], metric)
        blended = np.sum([w * predictions[n] for n, w in weights.items()], axis=0)
        blended = blended / sum(weights.values())
        final_loss = validation_loss(metric, target[held], blended)
    chosen = sorted(weights, key=lambda n: (-weights[n], n))
    if len(chosen) == 1:
        model = _final(members[chosen[0]]).fit(X, target)
    else:
        model = VotingRegressor(
            [(n, _final(members[n])) for n in chosen], weights=[weights[n] for n in chosen]
        ).fit(X, target)
    seconds = time.monotonic() - started
    # config_history holds only the improving trials; FLAML (pinned) counts every trial
    # per learner in _iter_per_learner, which has no public equivalent.
    per_learner = getattr(automl, "_iter_per_learner", None) or {}
    done = sum(per_learner.values()) or len(automl.config_history or {}) or 1
    return SearchResult(
        model,
        "VotingEnsemble" if len(chosen) > 1 else chosen[0],
        dict(automl.best_config or {}),
        float(automl.best_loss),
        done,
        seconds,
        weights={n: weights[n] for n in chosen},
        final_loss=final_loss,
    )


def feature_table(table: pd.DataFrame) -> pd.DataFrame:
    """What the AutoML node trains on: the derived features (by name) and the target."""
    derived = DerivedFeatures().fit(table).transform(table)
    derived[TARGET] = table[TARGET].to_numpy(dtype="float64")
    return derived.reset_index(drop=True)


def write_feature_table(frame: pd.DataFrame, folder: Path) -> None:
    """``data.parquet`` and ``MLTable`` in ``folder``: an mltable Azure AutoML reads."""
    import os

    from taxi_fare.split import DATA_FILE, MLTABLE

    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / f".{DATA_FILE}.partial"
    frame.to_parquet(partial, index=False)
    os.replace(partial, folder / DATA_FILE)  # a killed run leaves no half file under the name
    (folder / "MLTable").write_text(MLTABLE)


def model_input_columns(folder: Path) -> list[str]:
    """Input column names of an MLflow model's signature (``MLmodel``); a ModelError if none."""
    from mlflow.models import Model

    path = Path(folder)
    if not (path / "MLmodel").is_file():
        raise ModelError(f"{path}: not an MLflow model (no MLmodel file)")
    signature = Model.load(str(path / "MLmodel")).signature
    if signature is None or signature.inputs is None:
        raise ModelError(f"{path}: the model has no input signature; cannot package it")
    return [str(name) for name in signature.inputs.input_names()]


def package(best_model: Any, best_columns: list[str], sample: pd.DataFrame) -> Pipeline:
    """The AutoML winner behind the derived-feature stage: one model over the 20 features.

    Nothing is refitted: ``DerivedFeatures`` is fitted on ``sample`` (it only records its
    output columns) and checked against the columns the winner was trained on, so a model
    trained on other columns than the derived features is refused here, not at scoring.
    """
    features = DerivedFeatures().fit(sample.loc[:, list(FEATURES)])
    produced = [str(n) for n in features.get_feature_names_out()]
    if produced != best_columns:
        missing = [c for c in produced if c not in best_columns]
        extra = [c for c in best_columns if c not in produced]
        detail = (
            f"it lacks {missing[0]!r}"
            if missing
            else f"it has {extra[0]!r}"
            if extra
            else "its column order differs"
        )
        raise ModelError(
            "best_model was not trained on the derived features (featurize.py output): "
            f"{detail}; train the AutoML node on featurize's features_data"
        )
    return Pipeline([("features", features), ("model", best_model)])
