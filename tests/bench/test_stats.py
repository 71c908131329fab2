from __future__ import annotations

import numpy as np
import pytest

from bench.stats import latency_summary, percentile, ratio


@pytest.mark.parametrize("q", [0, 1, 25, 50, 90, 99, 100])
def test_percentile_matches_numpy_linear(q: float) -> None:
    values = [7.0, 1.0, 3.0, 10.0, 2.5, 4.0, 9.0]
    assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)))


def test_percentile_interpolates_between_ranks() -> None:
    assert percentile([10.0, 20.0], 50) == 15.0
    assert percentile([10.0, 20.0, 30.0, 40.0], 75) == pytest.approx(32.5)
    assert percentile([5.0], 99) == 5.0


@pytest.mark.parametrize(("values", "q"), [([], 50), ([1.0], -1), ([1.0], 100.5)])
def test_percentile_rejects_bad_input(values: list[float], q: float) -> None:
    with pytest.raises(ValueError):
        percentile(values, q)


def test_latency_summary_values() -> None:
    seconds = [0.001 * i for i in range(1, 101)]  # 1 ms .. 100 ms
    summary = latency_summary(seconds, wall_seconds=10.0)
    assert summary["requests"] == 100
    assert summary["requests_per_s"] == 10.0
    assert summary["p50_ms"] == pytest.approx(50.5)
    assert summary["p99_ms"] == pytest.approx(99.01)
    assert summary["max_ms"] == pytest.approx(100.0)


def test_latency_summary_rejects_zero_wall() -> None:
    with pytest.raises(ValueError, match="wall time"):
        latency_summary([0.1], 0.0)


def test_ratio() -> None:
    assert ratio(3.0, 2.0) == 1.5
    with pytest.raises(ValueError, match="positive"):
        ratio(1.0, 0.0)
