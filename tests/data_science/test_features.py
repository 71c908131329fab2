"""Feature engineering and the derived-feature stage: values, names, column order."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from taxi_fare.features import (
    DerivedFeatures,
    FeatureSchemaError,
    derive,
    haversine_miles,
    in_manhattan,
    select_features,
)
from taxi_fare.schema import FEATURES
from taxi_fare.serving.one_row import derived_row
from taxi_fare.serving.one_row import in_manhattan as in_manhattan_row

#: (latitude, longitude, in Manhattan?) on both sides of its rivers.
PLACES = [
    (40.7549, -73.9840, True),  # Midtown
    (40.7033, -74.0170, True),  # the Battery
    (40.8677, -73.9212, True),  # Inwood
    (40.7794, -73.9632, True),  # the Met, Upper East Side
    (40.7145, -73.9612, False),  # Williamsburg, across the East River
    (40.7440, -73.9485, False),  # Long Island City
    (40.7440, -74.0324, False),  # Hoboken, across the Hudson
    (40.8296, -73.9262, False),  # Yankee Stadium, the Bronx
    (40.6413, -73.7781, False),  # JFK
]


def one_trip(**changes: float) -> pd.DataFrame:
    """JFK to Midtown, Friday 23:50:00 -> Saturday 00:40:30 (crosses midnight)."""
    row = {name: 0.0 for name in FEATURES}
    row.update(
        distance=17.5,
        passengers=1,
        vendor=2,
        pickup_latitude=40.6413,
        pickup_longitude=-73.7781,
        dropoff_latitude=40.7549,
        dropoff_longitude=-73.9840,
        pickup_weekday=4,
        pickup_month=1,
        pickup_monthday=1,
        pickup_hour=23,
        pickup_minute=50,
        pickup_second=0,
        dropoff_weekday=5,
        dropoff_month=1,
        dropoff_monthday=2,
        dropoff_hour=0,
        dropoff_minute=40,
        dropoff_second=30,
    )
    row.update(changes)
    return pd.DataFrame([row])


def test_haversine_known_distance() -> None:
    # JFK to Midtown: 0.1136 deg north (7.85 mi), 0.2059 deg west (10.79 mi at 40.7 N).
    assert haversine_miles(40.6413, -73.7781, 40.7549, -73.9840) == pytest.approx(13.34, abs=0.05)
    assert haversine_miles(40.7, -74.0, 40.7, -74.0) == 0.0


def test_derived_values() -> None:
    derived = derive(one_trip()).iloc[0]
    assert derived["duration_min"] == pytest.approx(50.5)  # across midnight via the weekday
    assert derived["straight_miles"] == pytest.approx(13.34, abs=0.05)
    assert derived["jfk_trip"] == 1.0 and derived["lga_trip"] == 0.0
    assert derived["night"] == 1.0 and derived["rush_hour"] == 0.0
    assert derived["rate_card_fare"] == pytest.approx(52.0 + 0.8 + 0.5)  # JFK flat, night
    assert derived["speed_mph"] == pytest.approx(17.5 / (50.5 / 60))
    assert derived["pickup_midtown_miles"] > 10 and derived["dropoff_midtown_miles"] < 0.1


def test_columns_are_matched_by_name() -> None:
    frame = pd.concat([one_trip(), one_trip(distance=3.0)], ignore_index=True)
    stage = DerivedFeatures().fit(frame)
    shuffled = frame[list(reversed(FEATURES))].assign(extra_column="ignored")
    pd.testing.assert_frame_equal(stage.transform(frame), stage.transform(shuffled))
    assert list(stage.get_feature_names_out()) == list(stage.transform(frame).columns)


def test_bad_model_input() -> None:
    with pytest.raises(FeatureSchemaError, match="missing column 'vendor'"):
        select_features(one_trip().drop(columns=["vendor"]))
    with pytest.raises(
        FeatureSchemaError, match="column 'passengers' holds non-numeric value 'two'"
    ):
        select_features(one_trip().astype(object).assign(passengers="two"))
    with pytest.raises(FeatureSchemaError, match="named columns, got ndarray"):
        DerivedFeatures().fit(one_trip()).transform(np.zeros((1, 20)))


@pytest.mark.parametrize(("lat", "lon", "inside"), PLACES)
def test_manhattan_polygon(lat: float, lon: float, inside: bool) -> None:
    assert bool(in_manhattan(np.array([lat]), np.array([lon]))[0]) is inside
    assert in_manhattan_row(lat, lon) is inside


def test_jfk_flat_fare_and_the_far_end() -> None:
    brooklyn = {"dropoff_latitude": 40.6782, "dropoff_longitude": -73.9442}
    to_jfk = {
        "pickup_latitude": 40.7549,
        "pickup_longitude": -73.9840,
        "dropoff_latitude": 40.6413,
        "dropoff_longitude": -73.7781,
    }
    trips = pd.concat([one_trip(), one_trip(**brooklyn), one_trip(**to_jfk)], ignore_index=True)
    derived = derive(trips)
    # From JFK to Midtown and back: the flat fare; from JFK to Brooklyn: metered.
    assert derived["jfk_flat"].tolist() == [1.0, 0.0, 1.0]
    assert derived["manhattan_trip"].tolist() == [1.0, 0.0, 1.0]
    assert derived["jfk_trip"].tolist() == [1.0, 1.0, 1.0]
    # The end that is not the airport, whichever way the trip went.
    assert derived["far_end_latitude"].tolist() == [40.7549, 40.6782, 40.7549]
    assert derived["far_end_longitude"].tolist() == [-73.9840, -73.9442, -73.9840]
    # A trip between two non-airport points: its pickup.
    town = derive(one_trip(pickup_latitude=40.80, pickup_longitude=-73.95)).iloc[0]
    assert (town["far_end_latitude"], town["far_end_longitude"]) == (40.80, -73.95)
    assert town["jfk_flat"] == 0.0 and town["manhattan_trip"] == 1.0


def test_one_row_features_on_the_airport_rules() -> None:
    """The one-row (online) path gives the same new columns as the numpy one."""
    trips = pd.concat(
        [one_trip(dropoff_latitude=lat, dropoff_longitude=lon) for lat, lon, _ in PLACES]
        + [one_trip(pickup_latitude=lat, pickup_longitude=lon) for lat, lon, _ in PLACES],
        ignore_index=True,
    )
    expected = derive(trips)
    for i, row in enumerate(trips[list(FEATURES)].to_numpy().tolist()):
        got = derived_row(row)
        assert list(got) == list(expected.columns)
        for name in (
            "manhattan_trip",
            "jfk_flat",
            "far_end_latitude",
            "far_end_longitude",
            "airport_fare",
        ):
            assert got[name] == expected[name].iloc[i], (i, name)


def test_airport_fare_adds_the_newark_fare_and_the_jfk_rush_surcharge() -> None:
    """Newark: + $17.50 surcharge + $15 tolls, trips to it only; JFK flat at rush: + $3.50."""
    to_ewr = {"dropoff_latitude": 40.6895, "dropoff_longitude": -74.1745}
    from_ewr = {"pickup_latitude": 40.6895, "pickup_longitude": -74.1745}
    midtown = {"pickup_latitude": 40.7549, "pickup_longitude": -73.9840}
    rush = {"pickup_weekday": 2, "pickup_hour": 17, "dropoff_weekday": 2, "dropoff_hour": 18}
    trips = pd.concat(
        [
            one_trip(**midtown, **to_ewr),  # Midtown -> Newark
            one_trip(**from_ewr),  # Newark -> Midtown: no surcharge (it is for trips to it)
            one_trip(**rush),  # JFK -> Midtown on a Wednesday at 17:00: flat fare, rush
            one_trip(),  # JFK -> Midtown on a Friday night: flat fare, no rush
            one_trip(**rush, dropoff_latitude=40.6782, dropoff_longitude=-73.9442),  # metered
        ],
        ignore_index=True,
    )
    derived = derive(trips)
    extra = (derived["airport_fare"] - derived["rate_card_fare"]).tolist()
    assert extra == [32.5, 0.0, 3.5, 0.0, 0.0]
    assert derived["ewr_trip"].tolist()[:2] == [1.0, 1.0]
    assert derived["rush_hour"].tolist() == [0.0, 0.0, 1.0, 0.0, 1.0]
    for i, row in enumerate(trips[list(FEATURES)].to_numpy().tolist()):
        assert derived_row(row)["airport_fare"] == derived["airport_fare"].iloc[i], i


def test_meter_fares_charge_the_minutes_beyond_each_cruising_speed() -> None:
    """10 miles in 60 minutes: 10 slow minutes at 12 mph (the rate card's), 20 at 15 mph,
    30 at 20 mph, 36 at 25 mph; each $0.50 a minute over the rate card. The JFK flat fare
    has no meter: every column is the airport fare."""
    hour = {"pickup_hour": 10, "dropoff_hour": 11, "pickup_minute": 0, "dropoff_minute": 0}
    day = {"pickup_weekday": 2, "dropoff_weekday": 2, "pickup_second": 0, "dropoff_second": 0}
    town = {"pickup_latitude": 40.80, "pickup_longitude": -73.95}
    trips = pd.concat(
        [one_trip(distance=10.0, **hour, **day, **town), one_trip(distance=10.0, **hour, **day)],
        ignore_index=True,
    )
    derived = derive(trips)
    metered, flat = derived.iloc[0], derived.iloc[1]
    assert metered["rate_card_fare"] == pytest.approx(2.5 + 25.0 + 0.5 * 10 + 0.8)
    for mph, slow in ((15, 20.0), (20, 30.0), (25, 36.0)):
        assert metered[f"slow_minutes_{mph}mph"] == pytest.approx(slow)
        extra = metered[f"meter_fare_{mph}mph"] - metered["airport_fare"]
        assert extra == pytest.approx(0.5 * (slow - 10.0))
        assert flat[f"meter_fare_{mph}mph"] == flat["airport_fare"] == 52.0 + 0.8
    # A fast trip (10 miles in 20 minutes, 30 mph) has no slow minutes at any speed.
    fast = derive(one_trip(distance=10.0, **day, **town, pickup_hour=10, dropoff_hour=10,
                           pickup_minute=0, dropoff_minute=20)).iloc[0]  # fmt: skip
    assert [fast[f"slow_minutes_{mph}mph"] for mph in (15, 20, 25)] == [0.0, 0.0, 0.0]
    assert fast["meter_fare_25mph"] == fast["airport_fare"]


def test_one_row_meter_fares_are_the_numpy_ones_bit_for_bit() -> None:
    """Trips of every speed, flat or metered, to and from the airports: the same numbers."""
    rng = np.random.default_rng(7)
    trips = pd.concat(
        [
            one_trip(
                distance=float(rng.uniform(0.1, 30.0)),
                dropoff_minute=float(rng.integers(0, 60)),
                dropoff_second=float(rng.integers(0, 60)),
                pickup_latitude=lat,
                pickup_longitude=lon,
            )
            for lat, lon, _ in PLACES * 4
        ],
        ignore_index=True,
    )
    expected = derive(trips)
    names = [c for c in expected.columns if c.startswith(("slow_minutes_", "meter_fare_"))]
    assert len(names) == 6
    for i, row in enumerate(trips[list(FEATURES)].to_numpy().tolist()):
        got = derived_row(row)
        assert list(got) == list(expected.columns)
        for name in names:
            assert got[name] == expected[name].iloc[i], (i, name)
