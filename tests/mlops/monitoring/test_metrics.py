"""The metric definitions on inputs whose values are known by hand."""

from __future__ import annotations

import numpy as np
import pytest

from mlops.monitoring import metrics


def test_wasserstein_is_in_reference_standard_deviations():
    rng = np.random.default_rng(0)
    ref = rng.normal(10.0, 2.0, 20_000)
    assert metrics.normalized_wasserstein_distance(ref, ref + 2.0) == pytest.approx(1.0, rel=0.01)
    assert metrics.normalized_wasserstein_distance(ref, ref.copy()) == 0.0


def test_psi_zero_for_same_sample_and_large_for_a_shift():
    rng = np.random.default_rng(1)
    ref = rng.normal(0, 1, 10_000)
    assert metrics.population_stability_index(ref, ref.copy()) == pytest.approx(0.0, abs=1e-12)
    assert metrics.population_stability_index(ref, ref + 1.0) > 0.5


def test_psi_by_hand_on_two_bins():
    # Reference deciles of 0/1 data collapse to one edge: bins (<1) and (>=1).
    ref = np.array([0.0] * 50 + [1.0] * 50)
    tgt = np.array([0.0] * 25 + [1.0] * 75)
    expected = (0.25 - 0.5) * np.log(0.25 / 0.5) + (0.75 - 0.5) * np.log(0.75 / 0.5)
    assert metrics.population_stability_index(ref, tgt) == pytest.approx(expected)


def test_jensen_shannon_bounds():
    a = np.array([1.0, 1.0, 2.0, 2.0])
    assert metrics.jensen_shannon_distance(a, a) == pytest.approx(0.0)
    assert metrics.jensen_shannon_distance(np.ones(5), np.full(5, 2.0)) == pytest.approx(1.0)


def test_chi_squared_p_value():
    same = np.array([1.0] * 500 + [2.0] * 500)
    moved = np.array([1.0] * 300 + [2.0] * 700)
    assert metrics.pearsons_chi_squared_test(same, same) == pytest.approx(1.0)
    assert metrics.pearsons_chi_squared_test(same, moved) < 1e-6
    assert metrics.pearsons_chi_squared_test(np.ones(10), np.ones(4)) == 1.0


def test_quality_rates():
    ref = np.array([1.0, 2.0, 3.0, 4.0])
    tgt = np.array([np.nan, 2.5, 9.0, 1.0])
    assert metrics.null_value_rate(tgt) == 0.25
    assert metrics.data_type_error_rate(ref, tgt) == 0.25  # 2.5 in a whole-number column
    assert metrics.data_type_error_rate(ref + 0.5, tgt) == 0.0  # reference is not whole
    assert metrics.out_of_bounds_rate(ref, tgt, categorical=False) == 0.25  # 9.0
    assert metrics.out_of_bounds_rate(ref, tgt, categorical=True) == 0.5  # 2.5 and 9.0


def test_breach_direction():
    assert metrics.breached("normalized_wasserstein_distance", 0.2, 0.1)
    assert not metrics.breached("normalized_wasserstein_distance", 0.1, 0.1)
    assert metrics.breached("null_value_rate", 0.001, 0.0)
    assert metrics.breached("pearsons_chi_squared_test", 0.0001, 0.001)
    assert not metrics.breached("pearsons_chi_squared_test", 0.2, 0.001)
