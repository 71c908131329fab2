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
    select_features,
)
from taxi_fare.schema import FEATURES


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
