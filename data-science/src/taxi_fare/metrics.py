"""Regression metrics, named with their direction (``*_error`` lower, ``*_score`` higher).

sklearn is imported only when metrics are computed: the gate and the register step use
the names and directions alone, and importing sklearn costs about a second of start-up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

#: Training rows the training steps score for their ``train_*`` metrics (a seeded sample).
FIT_METRICS_ROWS = 5_000

METRIC_NAMES: tuple[str, ...] = (
    "root_mean_squared_error",
    "mean_absolute_error",
    "r2_score",
    "mean_absolute_percentage_error",
)


def regression_metrics(actual: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """The four metrics of ``metrics.json``, as plain floats."""
    from sklearn.metrics import (
        mean_absolute_error,
        mean_absolute_percentage_error,
        r2_score,
        root_mean_squared_error,
    )

    return {
        "root_mean_squared_error": float(root_mean_squared_error(actual, predicted)),
        "mean_absolute_error": float(mean_absolute_error(actual, predicted)),
        "r2_score": float(r2_score(actual, predicted)),
        "mean_absolute_percentage_error": float(mean_absolute_percentage_error(actual, predicted)),
    }


def higher_is_better(metric: str) -> bool:
    """Direction from the name: sklearn's convention, ``*_score`` up, ``*_error`` down."""
    if metric.endswith("_score"):
        return True
    if metric.endswith("_error"):
        return False
    raise ValueError(f"metric {metric!r} does not say its direction (*_score or *_error)")


def fit_metrics(
    model: Any,
    features: pd.DataFrame,
    actual: pd.Series,
    max_rows: int = FIT_METRICS_ROWS,
    seed: int = 0,
) -> tuple[dict[str, float], int]:
    """(metrics, rows): the four metrics of a fitted model on at most ``max_rows`` of its
    training rows, picked at random with ``seed``.

    Training-set metrics only show how closely the model fits (the test metrics come
    from evaluate), so a seeded sample tells as much as every row; predicting all the
    training rows again with a 200-tree forest is a sizeable share of a training step.
    """
    import numpy as np

    rows = len(features)
    if rows > max_rows:
        picked = np.sort(np.random.default_rng(seed).choice(rows, size=max_rows, replace=False))
        features, actual = features.iloc[picked], actual.iloc[picked]
    predicted = np.asarray(model.predict(features), dtype="float64")
    return regression_metrics(actual.to_numpy(), predicted), len(features)
