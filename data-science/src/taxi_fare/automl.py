"""AutoML search with FLAML over the derived features; the winner becomes a model Pipeline."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sklearn.pipeline import Pipeline

from taxi_fare.features import DerivedFeatures
from taxi_fare.models import ModelError, pipeline_with

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SearchResult:
    pipeline: Pipeline
    estimator: str
    config: dict[str, Any]
    best_loss: float
    trials: int


def search_settings(
    metric: str | Callable,
    estimators: list[str],
    time_budget_seconds: int,
    max_trials: int | None,
    seed: int,
) -> dict[str, Any]:
    """FLAML ``AutoML.fit`` settings; learners in turn (reproducible) when ``max_trials`` is set."""
    settings: dict[str, Any] = {
        "task": "regression",
        "metric": metric,
        "estimator_list": estimators,
        "time_budget": time_budget_seconds,
        "seed": seed,
        "verbose": 0,
        "log_file_name": "",
        "retrain_full": False,  # the Pipeline refit in search() trains on all rows once
    }
    if max_trials is not None:
        settings.update(max_iter=max_trials, learner_selector="roundrobin")
    return settings


def search(
    X: pd.DataFrame,  # noqa: N803 (sklearn naming)
    y: pd.Series,
    metric: str | Callable,
    estimators: list[str],
    time_budget_seconds: int,
    max_trials: int | None,
    seed: int,
) -> SearchResult:
    """Search ``estimators`` for at most ``max_trials`` trials and ``time_budget_seconds``.

    With ``max_trials`` learners take turns (``roundrobin``) instead of FLAML's default
    choice from the measured wall-clock cost of earlier trials, so the same data,
    settings and seed give the same model, provided the trial cap ends the search. The
    time budget still bounds the run: when it ends the search first, which trials ran
    depends on the machine's speed, and that is logged as a warning. Without
    ``max_trials`` only the clock ends the search and a rerun may pick another model.

    FLAML searches on the derived features, so the winner sees exactly what it will see
    inside the Pipeline; the final Pipeline is a fresh clone of the winner refitted
    behind the derived-feature stage on all training rows.
    """
    from flaml import AutoML  # slow import, only when a search runs

    derived = DerivedFeatures().fit(X).transform(X)
    automl = AutoML()
    settings = search_settings(metric, estimators, time_budget_seconds, max_trials, seed)
    if max_trials is None:
        log.info("AutoML: search of %d s (time-bounded, not reproducible)", time_budget_seconds)
    else:
        log.info(
            "AutoML: search of %d trials, learners in turn (reproducible), at most %d s",
            max_trials,
            time_budget_seconds,
        )
    started = time.monotonic()
    automl.fit(X_train=derived, y_train=y.to_numpy(), **settings)
    elapsed = time.monotonic() - started
    if automl.model is None or automl.best_estimator is None:
        raise ModelError(
            f"AutoML found no model within {time_budget_seconds} s; raise time_budget_seconds"
        )
    pipeline = pipeline_with(automl.model.estimator)
    pipeline.fit(X, y)
    # config_history holds only the improving trials; FLAML (pinned) counts every trial
    # per learner in _iter_per_learner, which has no public equivalent.
    per_learner = getattr(automl, "_iter_per_learner", None) or {}
    trials = sum(per_learner.values()) or len(automl.config_history or {}) or 1
    # Fewer trials than the cap also happens when every learner's search converged;
    # only a search that used (nearly) all its time was cut by the clock.
    if max_trials is not None and trials < max_trials and elapsed >= 0.9 * time_budget_seconds:
        log.warning(
            "AutoML: the %d s time budget ended the search after %d of %d trials; "
            "a rerun may differ (raise time_budget_seconds for a reproducible search)",
            time_budget_seconds,
            trials,
            max_trials,
        )
    return SearchResult(
        pipeline,
        automl.best_estimator,
        dict(automl.best_config or {}),
        float(automl.best_loss),
        trials,
    )
