"""Feature engineering: the 20 model inputs from raw trips, and derived features in the model.

``engineer`` turns canonical raw trips into the 20-column contract (run by prep).
``DerivedFeatures`` is the first stage of every model Pipeline: it selects the 20
columns by name and adds what a tree cannot easily find on its own (trip
duration, great-circle distance, bearing, airport and surcharge flags), so every
client keeps sending the same 20 columns.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator, TransformerMixin

from taxi_fare.errors import TaxiFareError
from taxi_fare.schema import FEATURES, TARGET

EARTH_RADIUS_MILES = 3958.8
#: (latitude, longitude) of the three airports with their own fares and tolls.
AIRPORTS: dict[str, tuple[float, float]] = {
    "jfk": (40.6413, -73.7781),
    "lga": (40.7769, -73.8740),
    "ewr": (40.6895, -74.1745),
}
AIRPORT_RADIUS_MILES = 1.5
#: Midtown Manhattan: distance to it separates Manhattan trips from outer-borough ones.
MIDTOWN = (40.7549, -73.9840)


class FeatureSchemaError(TaxiFareError):
    """Model input lacks a required column or holds a non-numeric value."""


def haversine_miles(
    lat1: ArrayLike, lon1: ArrayLike, lat2: ArrayLike, lon2: ArrayLike
) -> np.ndarray:
    """Great-circle distance in miles (vectorised)."""
    lat1, lon1, lat2, lon2 = (
        np.radians(np.asarray(a, dtype="float64")) for a in (lat1, lon1, lat2, lon2)
    )
    a = (
        np.sin((lat2 - lat1) / 2) ** 2
        + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_MILES * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def bearing_degrees(
    lat1: ArrayLike, lon1: ArrayLike, lat2: ArrayLike, lon2: ArrayLike
) -> np.ndarray:
    """Initial compass bearing from point 1 to point 2, in [0, 360)."""
    lat1, lon1, lat2, lon2 = (
        np.radians(np.asarray(a, dtype="float64")) for a in (lat1, lon1, lat2, lon2)
    )
    y = np.sin(lon2 - lon1) * np.cos(lat2)
    x = np.cos(lat1) * np.sin(lat2) - np.sin(lat1) * np.cos(lat2) * np.cos(lon2 - lon1)
    return np.degrees(np.arctan2(y, x)) % 360.0


def engineer(trips: pd.DataFrame) -> pd.DataFrame:
    """The 20 features and the target from canonical trips, plus ``duration_s`` for cleaning.

    ``trips`` holds the canonical fields of ``schema.RawLayout.mapping`` with parsed
    datetimes; the weekday is Monday=0, as pandas counts.
    """
    pickup = trips["pickup_datetime"].dt
    dropoff = trips["dropoff_datetime"].dt
    out = pd.DataFrame(index=trips.index)
    for name in ("distance", "dropoff_latitude", "dropoff_longitude", "passengers"):
        out[name] = trips[name]
    for name in ("pickup_latitude", "pickup_longitude", "store_forward", "vendor"):
        out[name] = trips[name]
    for prefix, parts in (("pickup", pickup), ("dropoff", dropoff)):
        out[f"{prefix}_weekday"] = parts.weekday
        out[f"{prefix}_month"] = parts.month
        out[f"{prefix}_monthday"] = parts.day
        out[f"{prefix}_hour"] = parts.hour
        out[f"{prefix}_minute"] = parts.minute
        out[f"{prefix}_second"] = parts.second
    out = out[list(FEATURES)].astype("float64")
    out[TARGET] = trips[TARGET].astype("float64")
    out["duration_s"] = (trips["dropoff_datetime"] - trips["pickup_datetime"]).dt.total_seconds()
    return out


def select_features(frame: pd.DataFrame, source: str = "model input") -> pd.DataFrame:
    """The 20 features by name as float64; a missing or non-numeric column is an error."""
    missing = [c for c in FEATURES if c not in frame.columns]
    if missing:
        raise FeatureSchemaError(
            f"{source}: missing column {missing[0]!r} (expected {', '.join(FEATURES)})"
        )
    selected = frame.loc[:, list(FEATURES)]
    for column in FEATURES:
        if not pd.api.types.is_numeric_dtype(selected[column]):
            values = pd.to_numeric(selected[column], errors="coerce")
            bad = selected[column][values.isna() & selected[column].notna()]
            if len(bad):
                raise FeatureSchemaError(
                    f"{source}: column {column!r} holds non-numeric value {bad.iloc[0]!r}"
                )
    return selected.astype("float64")


def derive(features: pd.DataFrame) -> pd.DataFrame:
    """The 20 features plus derived ones; ``features`` is already float64 by name."""
    f = features
    out = f.copy()
    p_lat, p_lon = f["pickup_latitude"].to_numpy(), f["pickup_longitude"].to_numpy()
    d_lat, d_lon = f["dropoff_latitude"].to_numpy(), f["dropoff_longitude"].to_numpy()
    # Day difference via the weekday survives month and year ends for trips under a week.
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
    hours = np.clip(duration_min.to_numpy() / 60.0, 1.0 / 60.0, None)
    out["speed_mph"] = f["distance"].to_numpy() / hours
    out["route_ratio"] = f["distance"].to_numpy() / np.maximum(straight, 0.05)
    out["pickup_midtown_miles"] = haversine_miles(p_lat, p_lon, *MIDTOWN)
    out["dropoff_midtown_miles"] = haversine_miles(d_lat, d_lon, *MIDTOWN)
    for code, (lat, lon) in AIRPORTS.items():
        near_pickup = haversine_miles(p_lat, p_lon, lat, lon) < AIRPORT_RADIUS_MILES
        near_dropoff = haversine_miles(d_lat, d_lon, lat, lon) < AIRPORT_RADIUS_MILES
        out[f"{code}_trip"] = (near_pickup | near_dropoff).astype("float64")
    hour = f["pickup_hour"]
    weekday = f["pickup_weekday"] < 5
    out["night"] = ((hour >= 20) | (hour < 6)).astype("float64")
    out["rush_hour"] = (weekday & (hour >= 16) & (hour < 20)).astype("float64")
    out["pickup_time_of_day"] = pickup_tod / 3600.0
    out["weekend"] = (~weekday).astype("float64")
    out["rate_card_fare"] = rate_card_fare(out)
    return out


def rate_card_fare(derived: pd.DataFrame) -> np.ndarray:
    """What the 2016 TLC rate card charges before tips and tolls: a strong, smooth prior.

    $2.50 flag drop + $2.50 a mile + $0.50 a minute for the time spent below 12 mph
    (approximated as the minutes beyond a 12 mph trip), $52 flat between JFK and
    Manhattan, plus MTA tax, improvement surcharge, night and weekday rush extras.
    Trees approximate a linear fare in steps; handing them the fare removes that error.
    """
    distance = derived["distance"].to_numpy()
    slow_minutes = np.clip(derived["duration_min"].to_numpy() - distance * 5.0, 0.0, None)
    meter = 2.5 + 2.5 * distance + 0.5 * slow_minutes
    in_manhattan = (derived["pickup_midtown_miles"] < 5.0) | (
        derived["dropoff_midtown_miles"] < 5.0
    )
    meter = np.where((derived["jfk_trip"] > 0) & in_manhattan, 52.0, meter)
    extras = 0.8 + 0.5 * derived["night"].to_numpy() + 1.0 * derived["rush_hour"].to_numpy()
    return meter + extras


class DerivedFeatures(TransformerMixin, BaseEstimator):
    """First Pipeline stage: select the 20 features by name, add derived features."""

    def fit(self, X: pd.DataFrame, y: object = None) -> DerivedFeatures:  # noqa: N803 (sklearn API)
        selected = select_features(X)
        self.feature_names_in_ = np.array(FEATURES, dtype=object)
        self.n_features_in_ = len(FEATURES)
        self.feature_names_out_ = np.array(derive(selected.head(1)).columns, dtype=object)
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:  # noqa: N803 (sklearn API)
        if not isinstance(X, pd.DataFrame):
            raise FeatureSchemaError(
                f"model input must be a table with named columns, got {type(X).__name__}"
            )
        return derive(select_features(X))

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        return self.feature_names_out_
