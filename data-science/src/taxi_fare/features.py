"""Feature engineering: the 20-column model input and the derived features in the model.

The 20 inputs are built from raw trips while they are read (``taxi_fare.ingest``).
``DerivedFeatures`` is the first stage of every model Pipeline: it selects the 20
columns by name and adds what a tree cannot easily find on its own (trip
duration, great-circle distance, bearing, airport and surcharge flags, whether the trip
touches Manhattan and so gets the JFK flat fare, the far end of an airport trip), so
every client keeps sending the same 20 columns.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator, TransformerMixin

from taxi_fare.errors import TaxiFareError
from taxi_fare.schema import FEATURES

EARTH_RADIUS_MILES = 3958.8
#: (latitude, longitude) of the three airports with their own fares and tolls.
AIRPORTS: dict[str, tuple[float, float]] = {
    "jfk": (40.6413, -73.7781),
    "lga": (40.7769, -73.8740),
    "ewr": (40.6895, -74.1745),
}
AIRPORT_RADIUS_MILES = 1.5
#: The 2016 TLC rate card's airport rules that ``rate_card_fare`` leaves out (it is kept as
#: it was, so models fitted on it keep their inputs): a trip to Newark pays the metered
#: fare plus a $17.50 surcharge, and $15 of tolls (the Port Authority crossings' 2016 cash
#: rate; bench.quality's generator charges the same); the JFK flat fare's weekday 4-8 pm
#: surcharge is $4.50, not the meter's $1.
NEWARK_SURCHARGE = 17.5
NEWARK_TOLLS = 15.0
JFK_FLAT_RUSH_EXTRA = 4.5 - 1.0
#: The meter charges $0.50 per 1/5 mile while the cab moves above 12 mph and $0.50 per
#: minute below (2016 TLC rate card), so two trips of the same miles and minutes can meter
#: differently: ``rate_card_fare`` assumes the least time charged (the miles all driven at
#: 12 mph). These round cruising speeds give the time charged if the moving part ran at
#: each (the rest of the minutes stopped in traffic); long trips differ most.
METER_CRUISE_MPH = (15, 20, 25)
#: Midtown Manhattan: distance to it separates Manhattan trips from outer-borough ones.
MIDTOWN = (40.7549, -73.9840)
#: Manhattan's shoreline as a (latitude, longitude) polygon, traced from the Battery up the
#: Hudson to Inwood, down the Harlem and East rivers: the borough the TLC's JFK flat fare
#: ($52 between JFK and any point in Manhattan, 2016 rate card) is defined by. Accurate to
#: a few hundred metres, which is what a 1.5-mile airport radius calls for.
MANHATTAN: tuple[tuple[float, float], ...] = (
    (40.6995, -74.0190), (40.7100, -74.0180), (40.7300, -74.0120), (40.7550, -74.0090),
    (40.7750, -73.9950), (40.8000, -73.9730), (40.8300, -73.9540), (40.8550, -73.9410),
    (40.8790, -73.9270), (40.8740, -73.9100), (40.8550, -73.9190), (40.8350, -73.9340),
    (40.8100, -73.9330), (40.7950, -73.9290), (40.7800, -73.9420), (40.7600, -73.9590),
    (40.7450, -73.9700), (40.7300, -73.9720), (40.7120, -73.9770), (40.7060, -73.9990),
    (40.7010, -74.0120),
)  # fmt: skip


class FeatureSchemaError(TaxiFareError):
    """Model input lacks a required column or holds a non-numeric value."""


def _radians(*degrees: ArrayLike) -> list[NDArray[np.float64]]:
    """Each argument as float64 radians."""
    return [np.radians(np.asarray(d, dtype="float64")) for d in degrees]


def haversine_miles(
    lat1: ArrayLike, lon1: ArrayLike, lat2: ArrayLike, lon2: ArrayLike
) -> np.ndarray:
    """Great-circle distance in miles (vectorised)."""
    phi1, lam1, phi2, lam2 = _radians(lat1, lon1, lat2, lon2)
    a = (
        np.sin((phi2 - phi1) / 2) ** 2
        + np.cos(phi1) * np.cos(phi2) * np.sin((lam2 - lam1) / 2) ** 2
    )
    distance: np.ndarray = 2 * EARTH_RADIUS_MILES * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))
    return distance


def bearing_degrees(
    lat1: ArrayLike, lon1: ArrayLike, lat2: ArrayLike, lon2: ArrayLike
) -> np.ndarray:
    """Initial compass bearing from point 1 to point 2, in [0, 360)."""
    phi1, lam1, phi2, lam2 = _radians(lat1, lon1, lat2, lon2)
    y = np.sin(lam2 - lam1) * np.cos(phi2)
    x = np.cos(phi1) * np.sin(phi2) - np.sin(phi1) * np.cos(phi2) * np.cos(lam2 - lam1)
    bearing: np.ndarray = np.degrees(np.arctan2(y, x)) % 360.0
    return bearing


def in_manhattan(lat: ArrayLike, lon: ArrayLike) -> np.ndarray:
    """Whether each point lies inside ``MANHATTAN`` (even-odd rule, vectorised)."""
    lat, lon = np.asarray(lat, dtype="float64"), np.asarray(lon, dtype="float64")
    inside = np.zeros(lat.shape, dtype=bool)
    for (lat1, lon1), (lat2, lon2) in zip(MANHATTAN, MANHATTAN[1:] + MANHATTAN[:1], strict=True):
        # The edge's longitude where the point's parallel crosses it (no edge is horizontal).
        crossing = lon1 + (lat - lat1) * (lon2 - lon1) / (lat2 - lat1)
        inside ^= ((lat1 > lat) != (lat2 > lat)) & (lon < crossing)
    return inside


def select_features(frame: pd.DataFrame, source: str = "model input") -> pd.DataFrame:
    """The 20 features by name as float64; a missing or non-numeric column is an error."""
    return pd.DataFrame(feature_arrays(frame, source), index=frame.index)


def feature_arrays(frame: pd.DataFrame, source: str = "model input") -> dict[str, np.ndarray]:
    """The 20 features by name as float64 arrays; a missing or non-numeric column is an error.

    Numeric columns are converted without building an intermediate frame: this runs on
    every prediction, and a one-row online request must not pay pandas' per-frame costs.
    """
    missing = [c for c in FEATURES if c not in frame.columns]
    if missing:
        raise FeatureSchemaError(
            f"{source}: missing column {missing[0]!r} (expected {', '.join(FEATURES)})"
        )
    # Callers that already send the 20 columns in order (score.py) skip the column take.
    selected = frame if tuple(frame.columns) == FEATURES else frame.loc[:, list(FEATURES)]
    for column, dtype in zip(FEATURES, selected.dtypes, strict=True):
        if not pd.api.types.is_numeric_dtype(dtype):
            series = selected[column]
            values = pd.to_numeric(series, errors="coerce")
            bad = series[values.isna() & series.notna()]
            if len(bad):
                raise FeatureSchemaError(
                    f"{source}: column {column!r} holds non-numeric value {bad.iloc[0]!r}"
                )
            selected = selected.assign(**{column: values})
    # Transposed, so each feature is one contiguous row (a view for a float64 frame).
    block = np.ascontiguousarray(selected.to_numpy(dtype="float64", na_value=np.nan).T)
    return dict(zip(FEATURES, block, strict=True))


def derive(features: pd.DataFrame) -> pd.DataFrame:
    """The 20 features plus derived ones; ``features`` is already float64 by name."""
    arrays = {c: features[c].to_numpy(dtype="float64") for c in FEATURES}
    return pd.DataFrame(derived_arrays(arrays), index=features.index)


def derived_arrays(f: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The 20 features (float64 arrays by name) plus the derived ones, in output order."""
    out = {c: f[c] for c in FEATURES}
    p_lat, p_lon = f["pickup_latitude"], f["pickup_longitude"]
    d_lat, d_lon = f["dropoff_latitude"], f["dropoff_longitude"]
    # Day difference via the weekday survives month and year ends for trips under a week.
    days = (f["dropoff_weekday"] - f["pickup_weekday"]) % 7
    pickup_tod = f["pickup_hour"] * 3600 + f["pickup_minute"] * 60 + f["pickup_second"]
    dropoff_tod = f["dropoff_hour"] * 3600 + f["dropoff_minute"] * 60 + f["dropoff_second"]
    duration_min = (days * 86400 + dropoff_tod - pickup_tod) / 60.0
    out["duration_min"] = duration_min
    # Every great-circle distance in one vectorised call: on a one-row online request the
    # cost is per numpy call, not per value. Same element-wise arithmetic as one by one.
    places = {"midtown": MIDTOWN, **AIRPORTS}
    legs = [
        (p_lat, p_lon, d_lat, d_lon),  # straight
        (p_lat, p_lon, d_lat, p_lon),  # manhattan: north-south leg
        (d_lat, p_lon, d_lat, d_lon),  # manhattan: east-west leg
        *((lat, lon, *place) for place in places.values() for lat, lon in
          ((p_lat, p_lon), (d_lat, d_lon))),
    ]  # fmt: skip
    ends = np.empty((4, len(legs), len(p_lat)), dtype="float64")
    for k, leg in enumerate(legs):
        for i in range(4):
            ends[i, k] = leg[i]  # an array, or a place's coordinate broadcast along
    miles = haversine_miles(*ends)
    straight = miles[0]
    out["straight_miles"] = straight
    out["manhattan_miles"] = miles[1] + miles[2]
    out["bearing"] = bearing_degrees(p_lat, p_lon, d_lat, d_lon)
    hours = np.clip(duration_min / 60.0, 1.0 / 60.0, None)
    out["speed_mph"] = f["distance"] / hours
    out["route_ratio"] = f["distance"] / np.maximum(straight, 0.05)
    out["pickup_midtown_miles"] = miles[3]
    out["dropoff_midtown_miles"] = miles[4]
    at_airport = np.zeros(len(p_lat), dtype=bool)  # the pickup is at an airport
    for k, code in enumerate(AIRPORTS, start=1):
        near_pickup = miles[3 + 2 * k] < AIRPORT_RADIUS_MILES
        near_dropoff = miles[4 + 2 * k] < AIRPORT_RADIUS_MILES
        out[f"{code}_trip"] = (near_pickup | near_dropoff).astype("float64")
        at_airport |= near_pickup
    to_newark = miles[4 + 2 * (list(AIRPORTS).index("ewr") + 1)] < AIRPORT_RADIUS_MILES
    manhattan = in_manhattan(p_lat, p_lon) | in_manhattan(d_lat, d_lon)
    out["manhattan_trip"] = manhattan.astype("float64")
    # The TLC's JFK flat fare: between JFK and Manhattan (rate code 2).
    out["jfk_flat"] = ((out["jfk_trip"] > 0) & manhattan).astype("float64")
    # Where an airport fare depends on the trip's other end (the flat fare's Manhattan, the
    # Newark surcharge's distance), one pair of columns holds that end whichever way the
    # trip went: the dropoff of a trip from an airport, else the pickup.
    out["far_end_latitude"] = np.where(at_airport, d_lat, p_lat)
    out["far_end_longitude"] = np.where(at_airport, d_lon, p_lon)
    hour = f["pickup_hour"]
    weekday = f["pickup_weekday"] < 5
    out["night"] = ((hour >= 20) | (hour < 6)).astype("float64")
    out["rush_hour"] = (weekday & (hour >= 16) & (hour < 20)).astype("float64")
    out["pickup_time_of_day"] = pickup_tod / 3600.0
    out["weekend"] = (~weekday).astype("float64")
    out["rate_card_fare"] = rate_card_fare(out)
    # The rate card with its airport rules: the Newark fare's surcharge and tolls and the JFK
    # flat fare's rush surcharge. Airport trips are few and dear (the test error of the AutoML
    # vote concentrates on them and on long trips); one column where their price is already
    # summed lets boosting's few splits there land on the right level.
    out["airport_fare"] = (
        out["rate_card_fare"]
        + (NEWARK_SURCHARGE + NEWARK_TOLLS) * to_newark.astype("float64")
        + JFK_FLAT_RUSH_EXTRA * (out["jfk_flat"] * out["rush_hour"])
    )
    # The airport fare again with the minutes charged at each cruising speed (the JFK flat
    # fare has no meter): where a long trip's price hides, between the fewest minutes
    # charged and all of them.
    flat = (out["jfk_trip"] > 0) & ((miles[3] < 5.0) | (miles[4] < 5.0))  # as rate_card_fare
    least_slow = np.clip(duration_min - f["distance"] * 5.0, 0.0, None)
    for mph in METER_CRUISE_MPH:
        slow = np.clip(duration_min - f["distance"] * (60.0 / mph), 0.0, None)
        out[f"slow_minutes_{mph}mph"] = slow
        out[f"meter_fare_{mph}mph"] = out["airport_fare"] + np.where(
            flat, 0.0, 0.5 * (slow - least_slow)
        )
    return out


def rate_card_fare(derived: Mapping[str, ArrayLike]) -> np.ndarray:
    """What the 2016 TLC rate card charges before tips and tolls: a strong, smooth prior.

    $2.50 flag drop + $2.50 a mile + $0.50 a minute for the time spent below 12 mph
    (approximated as the minutes beyond a 12 mph trip), $52 flat between JFK and
    Manhattan, plus MTA tax, improvement surcharge, night and weekday rush extras.
    Trees approximate a linear fare in steps; handing them the fare removes that error.
    ``derived`` maps column names to values (a frame or a dict of arrays).
    """

    def col(name: str) -> np.ndarray:
        return np.asarray(derived[name], dtype="float64")

    distance = col("distance")
    slow_minutes = np.clip(col("duration_min") - distance * 5.0, 0.0, None)
    meter = 2.5 + 2.5 * distance + 0.5 * slow_minutes
    in_manhattan = (col("pickup_midtown_miles") < 5.0) | (col("dropoff_midtown_miles") < 5.0)
    meter = np.where((col("jfk_trip") > 0) & in_manhattan, 52.0, meter)
    extras = 0.8 + 0.5 * col("night") + 1.0 * col("rush_hour")
    return meter + extras


class DerivedFeatures(TransformerMixin, BaseEstimator):  # type: ignore[misc]  # sklearn: untyped
    """First Pipeline stage: select the 20 features by name, add derived features.

    ``fit`` remembers the columns it produced (``feature_names_out_``) and ``transform``
    emits exactly those, in that order: the repository's newer taxi_fare may shadow the
    copy a model carries in ``code_paths``, and a model fitted before a derived feature
    existed must still get the columns its estimator was fitted on.
    """

    def fit(self, X: pd.DataFrame, y: object = None) -> DerivedFeatures:  # noqa: N803 (sklearn API)
        selected = feature_arrays(X)
        self.feature_names_in_ = np.array(FEATURES, dtype=object)
        self.n_features_in_ = len(FEATURES)
        head = {name: values[:1] for name, values in selected.items()}
        self.feature_names_out_ = np.array(list(derived_arrays(head)), dtype=object)
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:  # noqa: N803 (sklearn API)
        names, block = self.transform_array(X)
        return pd.DataFrame(block, columns=names, index=X.index, copy=False)

    def transform_array(self, X: pd.DataFrame) -> tuple[list[str], np.ndarray]:  # noqa: N803
        """``transform`` as (column names, 2-D float64 array): no frame for the fast path."""
        if not isinstance(X, pd.DataFrame):
            raise FeatureSchemaError(
                f"model input must be a table with named columns, got {type(X).__name__}"
            )
        return self._emit(derived_arrays(feature_arrays(X)), len(X))

    def transform_features(self, block: np.ndarray) -> np.ndarray:
        """Output columns for a float64 array whose columns are ``FEATURES`` in order.

        For callers that already checked the 20 inputs by name (score.py): no frame at all.
        """
        block = np.asarray(block, dtype="float64")
        if block.ndim != 2 or block.shape[1] != len(FEATURES):
            raise FeatureSchemaError(
                f"model input must have the {len(FEATURES)} features as columns, "
                f"got shape {block.shape}"
            )
        columns = np.ascontiguousarray(block.T)
        return self._emit(derived_arrays(dict(zip(FEATURES, columns, strict=True))), len(block))[1]

    def _emit(self, derived: dict[str, np.ndarray], rows: int) -> tuple[list[str], np.ndarray]:
        names = getattr(self, "feature_names_out_", None)
        names = list(derived) if names is None else [str(n) for n in names]
        unknown = [n for n in names if n not in derived]
        if unknown:
            raise FeatureSchemaError(
                f"model was fitted with derived feature {unknown[0]!r}, "
                "which this version of taxi_fare.features does not compute"
            )
        block = np.empty((rows, len(names)), dtype="float64")
        for j, name in enumerate(names):
            block[:, j] = derived[name]
        return names, block

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        return self.feature_names_out_
