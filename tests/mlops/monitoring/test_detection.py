"""Thresholds hold up: same-distribution samples pass, injected shifts are caught."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlops.monitoring.signals import compute


def _breaches(spec, baseline, target: pd.DataFrame, **kw) -> set[tuple[str, str, str]]:
    results = compute(spec, baseline.features, target, **kw)
    assert results
    return {(r.signal, r.feature, r.metric) for r in results if r.breached}


@pytest.mark.parametrize(("rows", "seed"), [(2_000, 11), (5_000, 12), (9_000, 13)])
def test_fresh_rows_of_the_same_distribution_do_not_breach(spec, trips, baseline, rows, seed):
    target = trips(rows, seed)
    assert target.rows > 0.9 * rows  # the cleaning kept the bulk of them
    assert _breaches(
        spec, baseline, target.features,
        baseline_predictions=baseline.labels, target_predictions=target.labels,
    ) == set()  # fmt: skip


def test_longer_trips_from_the_generator_are_data_and_prediction_drift(spec, trips, baseline):
    target = trips(5_000, 14, distance_scale=1.5)
    found = _breaches(
        spec, baseline, target.features,
        baseline_predictions=baseline.labels, target_predictions=target.labels,
    )  # fmt: skip
    assert ("data_drift", "distance", "normalized_wasserstein_distance") in found
    assert ("prediction_drift", "cost", "normalized_wasserstein_distance") in found


def test_a_scaled_feature_is_detected(spec, trips, baseline):
    target = trips(5_000, 15).features.copy()
    target["distance"] *= 1.3
    found = _breaches(spec, baseline, target)
    assert ("data_drift", "distance", "normalized_wasserstein_distance") in found
    assert {f for _, f, _ in found} == {"distance"}


def test_a_moved_category_share_is_detected(spec, trips, baseline):
    target = trips(5_000, 16).features.copy()
    rng = np.random.default_rng(0)
    ones = np.flatnonzero(target["vendor"].to_numpy() == 1)
    target.loc[rng.choice(ones, size=len(ones) // 2, replace=False), "vendor"] = 2.0
    found = _breaches(spec, baseline, target)
    assert ("data_drift_psi_chi2", "vendor", "pearsons_chi_squared_test") in found
    assert ("data_drift", "vendor", "jensen_shannon_distance") in found
    assert {f for _, f, _ in found} == {"vendor"}


def test_added_nulls_breach_data_quality_only_where_added(spec, trips, baseline):
    target = trips(5_000, 17).features.copy()
    target.loc[target.index[::50], "pickup_hour"] = np.nan  # 2%
    found = _breaches(spec, baseline, target)
    assert found == {("data_quality", "pickup_hour", "null_value_rate")}


def test_fractions_and_out_of_range_values_breach_data_quality(spec, trips, baseline):
    target = trips(5_000, 18).features.copy()
    target.loc[target.index[:100], "passengers"] = 1.5
    target.loc[target.index[:100], "pickup_latitude"] = 0.0  # a GPS fault, 2%
    found = _breaches(spec, baseline, target)
    assert ("data_quality", "passengers", "data_type_error_rate") in found
    assert ("data_quality", "pickup_latitude", "out_of_bounds_rate") in found
