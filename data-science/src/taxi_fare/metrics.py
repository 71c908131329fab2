"""Regression metrics, named with their direction (``*_error`` lower, ``*_score`` higher)."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import (
    mean_absolute_error,
    mean_absolute_percentage_error,
    r2_score,
    root_mean_squared_error,
)

METRIC_NAMES: tuple[str, ...] = (
    "root_mean_squared_error",
    "mean_absolute_error",
    "r2_score",
    "mean_absolute_percentage_error",
)


def regression_metrics(actual: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """The four metrics of ``metrics.json``, as plain floats."""
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
