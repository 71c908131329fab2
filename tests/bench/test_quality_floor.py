"""The tip-variance floor of bench/quality_floor.py."""

from __future__ import annotations

import numpy as np
import pytest

from bench.quality_floor import tip_share_moments, tip_variance


def test_tip_share_moments_match_the_generator_draw() -> None:
    mean, square = tip_share_moments(draws=400_000)
    # sum(p * v) of the draw, and sum(p * v^2) plus the jitter's variance
    assert mean == pytest.approx(0.1845, abs=0.002)
    assert square == pytest.approx(0.039675, abs=0.0005)


def test_tip_variance_is_that_of_a_card_times_share_product() -> None:
    base = np.array([10.0, 0.0])
    variance = tip_variance(base, card=0.5, moments=(0.2, 0.05))
    # 100 * (0.5 * 0.05 - (0.5 * 0.2)^2) = 100 * (0.025 - 0.01)
    assert variance.tolist() == pytest.approx([1.5, 0.0])
    assert tip_variance(base, card=1.0, moments=(0.2, 0.04))[0] == pytest.approx(0.0)
