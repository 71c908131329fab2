"""The metric definitions Azure ML model monitoring documents, as pure functions.

Names and meanings follow https://learn.microsoft.com/azure/machine-learning/concept-model-monitoring
("Monitoring signals and metrics", "Data quality metrics") and the metric names of
azure-ai-ml 1.35.2 azure/ai/ml/constants/_monitoring.py:MonitorMetricName. Drift metrics
are computed on the non-null values; ``reference`` is the baseline (training) sample.
"""

from __future__ import annotations

import numpy as np

#: Metrics whose value is a p-value: breached when the value is BELOW the threshold.
P_VALUE_METRICS = frozenset({"pearsons_chi_squared_test", "two_sample_kolmogorov_smirnov_test"})
PSI_BINS = 10
_PSI_FLOOR = 1e-4  # share given to an empty bin so the log stays finite


def breached(metric: str, value: float, threshold: float) -> bool:
    """Distances and rates breach above their threshold, p-values below it."""
    if metric in P_VALUE_METRICS:
        return value < threshold
    return value > threshold


def normalized_wasserstein_distance(reference: np.ndarray, target: np.ndarray) -> float:
    """Earth mover's distance between the samples, in units of the reference's standard
    deviation (a constant reference leaves it in the feature's own units)."""
    from scipy.stats import wasserstein_distance

    distance = float(wasserstein_distance(reference, target))
    scale = float(np.std(reference))
    return distance / scale if scale > 0 else distance


def population_stability_index(reference: np.ndarray, target: np.ndarray) -> float:
    """PSI over the reference's deciles: sum((t - r) * ln(t / r)) over the bins."""
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, PSI_BINS + 1)[1:-1]))
    ref_share = _bin_shares(reference, edges)
    tgt_share = _bin_shares(target, edges)
    return float(np.sum((tgt_share - ref_share) * np.log(tgt_share / ref_share)))


def _bin_shares(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    counts = np.bincount(np.searchsorted(edges, values, side="right"), minlength=edges.size + 1)
    return np.maximum(counts / max(values.size, 1), _PSI_FLOOR)


def _category_counts(reference: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    categories = np.union1d(reference, target)
    ref = np.array([np.count_nonzero(reference == c) for c in categories], dtype="float64")
    tgt = np.array([np.count_nonzero(target == c) for c in categories], dtype="float64")
    return ref, tgt


def jensen_shannon_distance(reference: np.ndarray, target: np.ndarray) -> float:
    """Jensen-Shannon distance (base 2, so in [0, 1]) of the category frequencies."""
    from scipy.spatial.distance import jensenshannon

    ref, tgt = _category_counts(reference, target)
    return float(jensenshannon(ref / ref.sum(), tgt / tgt.sum(), base=2))


def pearsons_chi_squared_test(reference: np.ndarray, target: np.ndarray) -> float:
    """p-value of Pearson's chi-squared test that both samples share category frequencies."""
    from scipy.stats import chi2_contingency

    ref, tgt = _category_counts(reference, target)
    if ref.size < 2:
        return 1.0  # one category on both sides: nothing can have moved
    return float(chi2_contingency(np.stack([ref, tgt]), correction=False).pvalue)


def null_value_rate(target: np.ndarray) -> float:
    """Share of target values that are null (NaN)."""
    return float(np.count_nonzero(np.isnan(target)) / target.size) if target.size else 0.0


def data_type_error_rate(reference: np.ndarray, target: np.ndarray) -> float:
    """Share of non-null target values whose type differs from the type inferred from the
    reference: every feature arrives as a number, so the one mismatch left is a fractional
    value where the reference holds only whole numbers (IntegerType vs DoubleType)."""
    values = target[~np.isnan(target)]
    if not values.size or not _whole(reference):
        return 0.0
    return float(np.count_nonzero(values != np.round(values)) / target.size)


def _whole(values: np.ndarray) -> bool:
    values = values[~np.isnan(values)]
    return bool(values.size) and bool(np.all(values == np.round(values)))


def out_of_bounds_rate(reference: np.ndarray, target: np.ndarray, categorical: bool) -> float:
    """Share of target values outside the reference's [min, max] (numerical) or outside the
    set of reference values (categorical)."""
    ref = reference[~np.isnan(reference)]
    values = target[~np.isnan(target)]
    if not values.size or not ref.size:
        return 0.0
    if categorical:
        outside = ~np.isin(values, np.unique(ref))
    else:
        outside = (values < ref.min()) | (values > ref.max())
    return float(np.count_nonzero(outside) / target.size)


DRIFT = {
    "normalized_wasserstein_distance": normalized_wasserstein_distance,
    "population_stability_index": population_stability_index,
    "jensen_shannon_distance": jensen_shannon_distance,
    "pearsons_chi_squared_test": pearsons_chi_squared_test,
}
QUALITY = ("null_value_rate", "data_type_error_rate", "out_of_bounds_rate")
