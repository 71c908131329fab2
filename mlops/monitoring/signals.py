"""Compute the monitor spec's signals for a baseline and a target: one result per
(signal, feature, metric), each with its threshold and whether it is breached."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from mlops.monitoring import metrics
from mlops.monitoring.spec import MonitorSpec

PREDICTION_FEATURE = "cost"  # the model's one output, as Azure ML's model_outputs name it


@dataclass(frozen=True)
class Result:
    signal: str
    feature: str
    metric: str
    value: float
    threshold: float
    breached: bool

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def _result(signal: str, feature: str, metric: str, value: float, threshold: float) -> Result:
    value = round(float(value), 6)
    flag = metrics.breached(metric, value, threshold)
    return Result(signal, feature, metric, value, threshold, flag)


def compute(
    spec: MonitorSpec,
    baseline: pd.DataFrame,
    target: pd.DataFrame,
    baseline_predictions: np.ndarray | None = None,
    target_predictions: np.ndarray | None = None,
) -> list[Result]:
    """Every signal of ``spec``; prediction drift only when both predictions are given."""
    results: list[Result] = []
    features = spec.features or tuple(baseline.columns)
    for signal in spec.signals:
        if signal.type == "prediction_drift":
            if baseline_predictions is None or target_predictions is None:
                continue
            columns = [(PREDICTION_FEATURE, baseline_predictions, target_predictions, False)]
        else:
            columns = [
                (f, baseline[f].to_numpy("float64"), target[f].to_numpy("float64"),
                 f in spec.categorical)
                for f in features
            ]  # fmt: skip
        for feature, ref, tgt, categorical in columns:
            thresholds = signal.categorical if categorical else signal.numerical
            for metric, threshold in thresholds.items():
                if signal.type == "data_quality":
                    value = _quality(metric, ref, tgt, categorical)
                else:
                    drift = metrics.DRIFT.get(metric)
                    if drift is None:
                        continue  # a metric without a local definition (e.g. KS): not judged
                    ref_ok, tgt_ok = ref[~np.isnan(ref)], tgt[~np.isnan(tgt)]
                    if not ref_ok.size or not tgt_ok.size:
                        continue  # all null: the data quality signal reports it
                    value = drift(ref_ok, tgt_ok)
                results.append(_result(signal.name, feature, metric, value, threshold))
    return results


def _quality(metric: str, ref: np.ndarray, tgt: np.ndarray, categorical: bool) -> float:
    if metric == "null_value_rate":
        return metrics.null_value_rate(tgt)
    if metric == "data_type_error_rate":
        return metrics.data_type_error_rate(ref, tgt)
    if metric == "out_of_bounds_rate":
        return metrics.out_of_bounds_rate(ref, tgt, categorical)
    raise ValueError(f"unknown data quality metric {metric!r}")


def summary(results: list[Result]) -> dict[str, object]:
    """The ``--json`` document: every result and whether any is breached."""
    return {
        "signals": [r.to_dict() for r in results],
        "breached": any(r.breached for r in results),
    }
