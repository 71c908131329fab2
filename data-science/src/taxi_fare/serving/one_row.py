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


def haversine_miles(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """``taxi_fare.features.haversine_miles`` for one pair of points."""
    lat1, lon1 = math.radians(lat1), math.radians(lon1)
    lat2, lon2 = math.radians(lat2), math.radians(lon2)
    s_lat = math.sin((lat2 - lat1) / 2)
    s_lon = math.sin((lon2 - lon1) / 2)
    a = s_lat * s_lat + math.cos(lat1) * math.cos(lat2) * (s_lon * s_lon)
    return 2 * EARTH_RADIUS_MILES * math.asin(math.sqrt(min(max(a, 0.0), 1.0)))


def bearing_degrees(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """``taxi_fare.features.bearing_degrees`` for one pair of points."""
    lat1, lon1 = math.radians(lat1), math.radians(lon1)
    lat2, lon2 = math.radians(lat2), math.radians(lon2)
    y = math.sin(lon2 - lon1) * math.cos(lat2)
    x = math.cos(lat1) * math.sin(lat2) - math.sin(lat1) * math.cos(lat2) * math.cos(lon2 - lon1)
    return math.degrees(math.atan2(y, x)) % 360.0


def in_manhattan(lat: float, lon: float) -> bool:
    """``taxi_fare.features.in_manhattan`` for one point."""
    inside = False
    for (lat1, lon1), (lat2, lon2) in zip(MANHATTAN, MANHATTAN[1:] + MANHATTAN[:1], strict=True):
        crossing = lon1 + (lat - lat1) * (lon2 - lon1) / (lat2 - lat1)
        if ((lat1 > lat) != (lat2 > lat)) and lon < crossing:
            inside = not inside
    return inside


def derived_row(row: Sequence[float]) -> dict[str, float]:
    """The 20 features (in ``FEATURES`` order) plus the derived ones, by name."""
    f = dict(zip(FEATURES, row, strict=True))
    out = dict(f)
    p_lat, p_lon = f["pickup_latitude"], f["pickup_longitude"]
    d_lat, d_lon = f["dropoff_latitude"], f["dropoff_longitude"]
    days = (f["dropoff_weekday"] - f["pickup_weekday"]) % 7
    pickup_tod = f["pickup_hour"] * 3600 + f["pickup_minute"] * 60 + f["pickup_second"]
    dropoff_tod = f["dropoff_hour"] * 3600 + f["dropoff_minute"] * 60 + f["dropoff_second"]
    duration_min = (days * 86400 + dropoff_tod - pickup_tod) / 60.0
    out["duration_min"] = duration_min
    straight = haversine_miles(p_lat, p_lon, d_lat, d_lon)
    out["straight_miles"] = straight
    out["manhattan_miles"] = haversine_miles(p_lat, p_lon, d_lat, p_lon) + haversine_miles(
        d_lat, p_lon, d_lat, d_lon
    )
    out["bearing"] = bearing_degrees(p_lat, p_lon, d_lat, d_lon)
    hours = max(duration_min / 60.0, 1.0 / 60.0)
    out["speed_mph"] = f["distance"] / hours
    out["route_ratio"] = f["distance"] / max(straight, 0.05)
    out["pickup_midtown_miles"] = haversine_miles(p_lat, p_lon, *MIDTOWN)
    out["dropoff_midtown_miles"] = haversine_miles(d_lat, d_lon, *MIDTOWN)
    at_airport = to_newark = False
    for code, place in AIRPORTS.items():
        near_pickup = haversine_miles(p_lat, p_lon, *place) < AIRPORT_RADIUS_MILES
        near_dropoff = haversine_miles(d_lat, d_lon, *place) < AIRPORT_RADIUS_MILES
        out[f"{code}_trip"] = 1.0 if near_pickup or near_dropoff else 0.0
        at_airport = at_airport or near_pickup
        to_newark = to_newark or (code == "ewr" and near_dropoff)
    manhattan = in_manhattan(p_lat, p_lon) or in_manhattan(d_lat, d_lon)
    out["manhattan_trip"] = 1.0 if manhattan else 0.0
    out["jfk_flat"] = 1.0 if out["jfk_trip"] > 0 and manhattan else 0.0
    out["far_end_latitude"] = d_lat if at_airport else p_lat
    out["far_end_longitude"] = d_lon if at_airport else p_lon
    hour = f["pickup_hour"]
    weekday = f["pickup_weekday"] < 5
    out["night"] = 1.0 if hour >= 20 or hour < 6 else 0.0
    out["rush_hour"] = 1.0 if weekday and 16 <= hour < 20 else 0.0
    out["pickup_time_of_day"] = pickup_tod / 3600.0
    out["weekend"] = 0.0 if weekday else 1.0
    out["rate_card_fare"] = rate_card_fare(out)
    out["airport_fare"] = (
        out["rate_card_fare"]
        + (NEWARK_SURCHARGE + NEWARK_TOLLS) * (1.0 if to_newark else 0.0)
        + JFK_FLAT_RUSH_EXTRA * (out["jfk_flat"] * out["rush_hour"])
    )
    flat = out["jfk_trip"] > 0 and (
        out["pickup_midtown_miles"] < 5.0 or out["dropoff_midtown_miles"] < 5.0
    )
    least_slow = max(duration_min - f["distance"] * 5.0, 0.0)
    for mph in METER_CRUISE_MPH:
        slow = max(duration_min - f["distance"] * (60.0 / mph), 0.0)
        out[f"slow_minutes_{mph}mph"] = slow
        out[f"meter_fare_{mph}mph"] = out["airport_fare"] + (
            0.0 if flat else 0.5 * (slow - least_slow)
        )
    return out


def rate_card_fare(d: dict[str, float]) -> float:
    """``taxi_fare.features.rate_card_fare`` for one row of derived values."""
    distance = d["distance"]
    slow_minutes = max(d["duration_min"] - distance * 5.0, 0.0)
    meter = 2.5 + 2.5 * distance + 0.5 * slow_minutes
    in_manhattan = d["pickup_midtown_miles"] < 5.0 or d["dropoff_midtown_miles"] < 5.0
    if d["jfk_trip"] > 0 and in_manhattan:
        meter = 52.0
    return meter + (0.8 + 0.5 * d["night"] + 1.0 * d["rush_hour"])
