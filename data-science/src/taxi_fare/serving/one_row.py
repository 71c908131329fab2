"""``taxi_fare.features.derived_arrays`` for one row, in plain Python floats.

An online request is one row; numpy costs about a microsecond per call whatever the
array's length, and the derived features take some 150 calls. Here each value is one
float operation, written in the same order as the numpy code so the results are the same
numbers: ``x ** 2`` on an array is numpy's ``square`` (``x * x``), ``np.clip(x, lo, None)``
is ``max(x, lo)``, and ``math`` calls the C library as numpy's float64 ``sin``/``cos``/
``arcsin``/``arctan2`` do on CPUs without AVX-512. On a CPU where numpy vectorises those
(AVX-512), a value may differ in its last bit (tested: at most 2 units in the last place).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from taxi_fare.features import (
    AIRPORT_RADIUS_MILES,
    AIRPORTS,
    EARTH_RADIUS_MILES,
    JFK_FLAT_RUSH_EXTRA,
    MANHATTAN,
    METER_CRUISE_MPH,
    MIDTOWN,
    NEWARK_SURCHARGE,
    NEWARK_TOLLS,
)
from taxi_fare.schema import FEATURES


def _haversine(
    phi1: float, lam1: float, cos1: float, phi2: float, lam2: float, cos2: float
) -> float:
    """``taxi_fare.features.haversine_miles`` of points in radians whose latitudes' cosines
    are known: a request's two ends take part in ten distances, the fixed places in many
    requests."""
    s_lat = math.sin((phi2 - phi1) / 2)
    s_lon = math.sin((lam2 - lam1) / 2)
    a = s_lat * s_lat + cos1 * cos2 * (s_lon * s_lon)
    return 2 * EARTH_RADIUS_MILES * math.asin(math.sqrt(min(max(a, 0.0), 1.0)))


def _place(lat: float, lon: float) -> tuple[float, float, float]:
    phi = math.radians(lat)
    return phi, math.radians(lon), math.cos(phi)


_MIDTOWN = _place(*MIDTOWN)
#: (code, its "<code>_trip" column, the airport in radians with its latitude's cosine).
_AIRPORTS = tuple((code, f"{code}_trip", *_place(*place)) for code, place in AIRPORTS.items())
#: Manhattan's edges as (lat1, lat2, lon1, lon2 - lon1, lat2 - lat1), the differences
#: being the same doubles ``in_manhattan`` computes on every call.
_EDGES = tuple(
    (lat1, lat2, lon1, lon2 - lon1, lat2 - lat1)
    for (lat1, lon1), (lat2, lon2) in zip(MANHATTAN, MANHATTAN[1:] + MANHATTAN[:1], strict=True)
)
_METER_COLUMNS = tuple(
    (60.0 / mph, f"slow_minutes_{mph}mph", f"meter_fare_{mph}mph") for mph in METER_CRUISE_MPH
)


def _bearing(phi1: float, lam1: float, cos1: float, phi2: float, lam2: float, cos2: float) -> float:
    """``taxi_fare.features.bearing_degrees`` of points given as ``_haversine``'s."""
    y = math.sin(lam2 - lam1) * cos2
    x = cos1 * math.sin(phi2) - math.sin(phi1) * cos2 * math.cos(lam2 - lam1)
    return math.degrees(math.atan2(y, x)) % 360.0


def in_manhattan(lat: float, lon: float) -> bool:
    """``taxi_fare.features.in_manhattan`` for one point (an edge's crossing is computed
    only where the point's parallel meets it, the only case where numpy's value counts)."""
    inside = False
    for lat1, lat2, lon1, d_lon, d_lat in _EDGES:
        if (lat1 > lat) != (lat2 > lat) and lon < lon1 + (lat - lat1) * d_lon / d_lat:
            inside = not inside
    return inside


def derived_row(row: Sequence[float]) -> dict[str, float]:
    """The 20 features (in ``FEATURES`` order) plus the derived ones, by name."""
    out = dict(zip(FEATURES, row, strict=True))
    p_lat, p_lon = out["pickup_latitude"], out["pickup_longitude"]
    d_lat, d_lon = out["dropoff_latitude"], out["dropoff_longitude"]
    distance, hour = out["distance"], out["pickup_hour"]
    days = (out["dropoff_weekday"] - out["pickup_weekday"]) % 7
    pickup_tod = hour * 3600 + out["pickup_minute"] * 60 + out["pickup_second"]
    dropoff_tod = out["dropoff_hour"] * 3600 + out["dropoff_minute"] * 60 + out["dropoff_second"]
    duration_min = (days * 86400 + dropoff_tod - pickup_tod) / 60.0
    out["duration_min"] = duration_min
    pickup, dropoff = _place(p_lat, p_lon), _place(d_lat, d_lon)
    straight = _haversine(*pickup, *dropoff)
    out["straight_miles"] = straight
    corner = (dropoff[0], pickup[1], dropoff[2])  # the dropoff's latitude, pickup's longitude
    out["manhattan_miles"] = _haversine(*pickup, *corner) + _haversine(*corner, *dropoff)
    out["bearing"] = _bearing(*pickup, *dropoff)
    hours = max(duration_min / 60.0, 1.0 / 60.0)
    out["speed_mph"] = distance / hours
    out["route_ratio"] = distance / max(straight, 0.05)
    pickup_midtown = out["pickup_midtown_miles"] = _haversine(*pickup, *_MIDTOWN)
    dropoff_midtown = out["dropoff_midtown_miles"] = _haversine(*dropoff, *_MIDTOWN)
    at_airport = to_newark = False
    for code, column, *place in _AIRPORTS:
        near_pickup = _haversine(*pickup, *place) < AIRPORT_RADIUS_MILES
        near_dropoff = _haversine(*dropoff, *place) < AIRPORT_RADIUS_MILES
        out[column] = 1.0 if near_pickup or near_dropoff else 0.0
        at_airport = at_airport or near_pickup
        to_newark = to_newark or (code == "ewr" and near_dropoff)
    manhattan = in_manhattan(p_lat, p_lon) or in_manhattan(d_lat, d_lon)
    jfk = out["jfk_trip"] > 0
    out["manhattan_trip"] = 1.0 if manhattan else 0.0
    jfk_flat = out["jfk_flat"] = 1.0 if jfk and manhattan else 0.0
    out["far_end_latitude"] = d_lat if at_airport else p_lat
    out["far_end_longitude"] = d_lon if at_airport else p_lon
    weekday = out["pickup_weekday"] < 5
    night = out["night"] = 1.0 if hour >= 20 or hour < 6 else 0.0
    rush = out["rush_hour"] = 1.0 if weekday and 16 <= hour < 20 else 0.0
    out["pickup_time_of_day"] = pickup_tod / 3600.0
    out["weekend"] = 0.0 if weekday else 1.0
    # rate_card_fare, inline: the flat fare applies to JFK trips with an end near Midtown.
    flat = jfk and (pickup_midtown < 5.0 or dropoff_midtown < 5.0)
    least_slow = max(duration_min - distance * 5.0, 0.0)
    meter = 52.0 if flat else 2.5 + 2.5 * distance + 0.5 * least_slow
    rate_card = out["rate_card_fare"] = meter + (0.8 + 0.5 * night + 1.0 * rush)
    airport = out["airport_fare"] = (
        rate_card
        + (NEWARK_SURCHARGE + NEWARK_TOLLS) * (1.0 if to_newark else 0.0)
        + JFK_FLAT_RUSH_EXTRA * (jfk_flat * rush)
    )
    for minutes_a_mile, slow_column, fare_column in _METER_COLUMNS:
        slow = max(duration_min - distance * minutes_a_mile, 0.0)
        out[slow_column] = slow
        out[fare_column] = airport + (0.0 if flat else 0.5 * (slow - least_slow))
    return out
