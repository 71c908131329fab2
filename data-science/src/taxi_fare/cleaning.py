"""Data-quality rules: which trips are kept, and how many are dropped for which reason.

Each row is charged to the FIRST rule it fails, in the order of ``RULES``, so the
counts add up to the number of dropped rows.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from taxi_fare.errors import TaxiFareError
from taxi_fare.schema import FEATURES, TARGET

log = logging.getLogger(__name__)

#: NYC bounding box (includes Newark airport); 0.0 coordinates fall outside.
LATITUDE_RANGE = (40.49, 40.93)
LONGITUDE_RANGE = (-74.27, -73.68)
PASSENGER_RANGE = (1, 6)
MAX_SPEED_MPH = 80.0
MAX_DURATION_HOURS = 6.0
MAX_COST_USD = 500.0


class QualityError(TaxiFareError):
    """Too many rows fail the data-quality rules."""


def _missing(t: pd.DataFrame) -> pd.Series:
    return t[[*FEATURES, TARGET]].isna().any(axis=1)


def _outside_nyc(t: pd.DataFrame) -> pd.Series:
    lat_ok = t[["pickup_latitude", "dropoff_latitude"]].apply(lambda c: c.between(*LATITUDE_RANGE))
    lon_ok = t[["pickup_longitude", "dropoff_longitude"]].apply(
        lambda c: c.between(*LONGITUDE_RANGE)
    )
    return ~(lat_ok.all(axis=1) & lon_ok.all(axis=1))


def _duration(t: pd.DataFrame) -> pd.Series:
    if "duration_s" in t:
        return t["duration_s"]
    return pd.Series(np.nan, index=t.index)


def _dropoff_not_after_pickup(t: pd.DataFrame) -> pd.Series:
    return _duration(t) <= 0


def _implausible_speed(t: pd.DataFrame) -> pd.Series:
    hours = _duration(t) / 3600.0
    return (hours > MAX_DURATION_HOURS) | (t["distance"] / hours > MAX_SPEED_MPH)


RULES: tuple[tuple[str, Callable[[pd.DataFrame], pd.Series]], ...] = (
    ("missing_value", _missing),
    ("outside_nyc_bounding_box", _outside_nyc),
    ("non_positive_distance", lambda t: t["distance"] <= 0),
    ("non_positive_cost", lambda t: t[TARGET] <= 0),
    ("implausible_cost", lambda t: t[TARGET] > MAX_COST_USD),
    ("passenger_count_out_of_range", lambda t: ~t["passengers"].between(*PASSENGER_RANGE)),
    ("dropoff_not_after_pickup", _dropoff_not_after_pickup),
    ("implausible_speed", _implausible_speed),
)


@dataclass(frozen=True)
class CleanResult:
    kept: pd.DataFrame
    dropped: dict[str, int]

    @property
    def rows_dropped(self) -> int:
        return sum(self.dropped.values())


def clean(trips: pd.DataFrame) -> CleanResult:
    """Apply the rules; ``dropped`` lists every rule (0 when none failed) in rule order."""
    remaining = pd.Series(True, index=trips.index)
    dropped: dict[str, int] = {}
    for reason, rule in RULES:
        failing = rule(trips).fillna(False).astype(bool) & remaining
        dropped[reason] = int(failing.sum())
        remaining &= ~failing
    kept = trips.loc[remaining, [*FEATURES, TARGET]].reset_index(drop=True)
    return CleanResult(kept, dropped)


def top_reasons(dropped: dict[str, int], limit: int = 3) -> str:
    ranked = sorted(((n, r) for r, n in dropped.items() if n), reverse=True)[:limit]
    return ", ".join(f"{r} {n:,}" for n, r in ranked)


def check_drop_share(
    rows_read: int, result: CleanResult, max_drop_fraction: float, source: str = "input"
) -> None:
    """Fail when every row, or more than the allowed share, was dropped from ``source``."""
    n = result.rows_dropped
    if len(result.kept) == 0:
        raise QualityError(
            f"{source}: all {rows_read:,} rows are invalid: {top_reasons(result.dropped)}"
        )
    if n > max_drop_fraction * rows_read:
        raise QualityError(
            f"{source}: dropped {n:,} of {rows_read:,} rows ({n / rows_read:.1%}), more than "
            f"max_drop_fraction {max_drop_fraction:.0%}; top reasons: {top_reasons(result.dropped)}"
        )
