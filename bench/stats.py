"""Small statistics the benches share: percentiles, latency summaries, ratios."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) with linear interpolation between ranks (numpy's default)."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0.0 <= q <= 100.0:
        raise ValueError(f"percentile {q} is outside 0-100")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100.0
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def latency_summary(seconds: Sequence[float], wall_seconds: float) -> dict[str, float]:
    """p50/p90/p99/max latency in milliseconds and requests per second over the wall time."""
    if wall_seconds <= 0:
        raise ValueError(f"wall time must be positive, got {wall_seconds}")
    ms = [s * 1000.0 for s in seconds]
    return {
        "requests": len(ms),
        "p50_ms": percentile(ms, 50),
        "p90_ms": percentile(ms, 90),
        "p99_ms": percentile(ms, 99),
        "max_ms": max(ms),
        "requests_per_s": len(ms) / wall_seconds,
    }


def ratio(ours: float, reference: float) -> float:
    """``ours / reference``; a zero or negative reference has no meaningful ratio."""
    if reference <= 0:
        raise ValueError(f"reference value must be positive, got {reference}")
    return ours / reference
