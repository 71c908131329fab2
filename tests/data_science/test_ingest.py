"""The typed, streamed reader: same values as the pandas reference, bounded blocks, and
messages that name file, column, line and value wherever the bad cell sits."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from taxi_fare import ingest
from taxi_fare.cleaning import clean_inputs, keep_mask
from taxi_fare.ingest import InputError, read_raw
from taxi_fare.schema import FEATURES, RAW_LAYOUTS, TARGET
from taxi_fare.split import seeded_split, split_columns

from tests.data_science.ds_rows import GREEN_HEADER, GREEN_ROW, YELLOW_HEADER, YELLOW_ROW, write_csv
from tests.tables import clean, read_inputs


def reference_trips(path: Path, kind: str) -> pd.DataFrame:
    """The raw file parsed the slow, obvious way, then ``engineer``."""
    layout = RAW_LAYOUTS[kind]
    raw = pd.read_csv(path, usecols=list(layout.mapping), dtype=str)
    trips = pd.DataFrame(index=raw.index)
    for column, field in layout.mapping.items():
        if field.endswith("_datetime"):
            trips[field] = pd.to_datetime(raw[column], format="ISO8601")
        elif field == "store_forward":
            trips[field] = raw[column].fillna("N").map({"N": 0.0, "Y": 1.0})
        else:
            trips[field] = pd.to_numeric(raw[column])
    return engineer(trips)


def engineer(trips: pd.DataFrame) -> pd.DataFrame:
    """Reference: the 20 features, the target and ``duration_s`` of canonical trips, in pandas.

    The streamed reader (``ingest._raw_columns``) must give the same values. ``trips``
    holds the canonical fields of ``schema.RawLayout.mapping`` with parsed datetimes;
    the weekday is Monday=0, as pandas counts.
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


def test_reference_builds_the_contract() -> None:
    trips = pd.DataFrame(
        {
            "vendor": [2.0],
            "passengers": [1.0],
            "distance": [2.0],
            "store_forward": [0.0],
            "pickup_longitude": [-73.98],
            "pickup_latitude": [40.75],
            "dropoff_longitude": [-73.97],
            "dropoff_latitude": [40.76],
            TARGET: [11.3],
            "pickup_datetime": pd.to_datetime(["2016-03-07 22:04:12"]),
            "dropoff_datetime": pd.to_datetime(["2016-03-07 22:15:28"]),
        }
    )
    out = engineer(trips)
    assert list(out.columns) == [*FEATURES, TARGET, "duration_s"]
    row = out.iloc[0]
    assert (row["pickup_weekday"], row["pickup_hour"], row["pickup_minute"]) == (0, 22, 4)
    assert (row["dropoff_monthday"], row["dropoff_second"]) == (7, 28)
    assert row["duration_s"] == 676 and row[TARGET] == 11.3


@pytest.fixture
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Blocks of a few hundred bytes: every test file spans many streamed batches."""
    monkeypatch.setattr(ingest, "BLOCK_BYTES", 600)


@pytest.mark.parametrize("kind", ["green", "yellow"])
def test_fast_read_matches_pandas_reference(raw_folder: Path, kind: str, small_blocks) -> None:
    path = next(raw_folder.glob(f"{kind}_*.csv"))
    fast = read_raw(path, kind)
    expected = reference_trips(path, kind)
    assert len(fast) > 100
    pd.testing.assert_frame_equal(fast, expected[list(fast.columns)], check_dtype=True)


def test_block_size_does_not_change_the_result(
    raw_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = clean_inputs([raw_folder])
    monkeypatch.setattr(ingest, "BLOCK_BYTES", 700)
    blocks = clean_inputs([raw_folder])
    assert blocks.rows_read == whole.rows_read == 600
    assert blocks.dropped == whole.dropped
    for name in (*FEATURES, TARGET):
        np.testing.assert_array_equal(blocks.columns[name], whole.columns[name])
    # ... and the streamed pipeline keeps exactly what the whole-table rules keep.
    merged, _, fingerprint = read_inputs([raw_folder])
    result = clean(merged)
    assert result.dropped == whole.dropped and fingerprint == whole.data_fingerprint
    pd.testing.assert_frame_equal(result.kept, pd.DataFrame(whole.columns))


def test_split_columns_matches_seeded_split() -> None:
    rng = np.random.default_rng(3)
    table = pd.DataFrame({name: rng.normal(size=101) for name in (*FEATURES, TARGET)})
    train, test = seeded_split(table, 0.3, 5)
    columns = {name: table[name].to_numpy().copy() for name in table}
    train_cols, test_cols = split_columns(columns, 0.3, 5)
    assert columns == {}, "the source columns are released as they are split"
    pd.testing.assert_frame_equal(pd.DataFrame(train_cols), train)
    pd.testing.assert_frame_equal(pd.DataFrame(test_cols), test)


def test_empty_cells_are_missing_values_not_errors(tmp_path: Path) -> None:
    no_distance = GREEN_ROW.replace(",2.04,", ",,")
    no_dropoff = GREEN_ROW.replace("2016-03-26 17:22:34", "")
    path = write_csv(tmp_path / "green_e.csv", GREEN_HEADER, [GREEN_ROW, no_distance, no_dropoff])
    trips = read_raw(path, "green")
    assert np.isnan(trips.loc[1, "distance"]) and np.isnan(trips.loc[2, "dropoff_hour"])
    assert np.isnan(trips.loc[2, "duration_s"])
    assert trips.loc[0, "pickup_hour"] == 17 and trips.loc[0, "duration_s"] == 735.0
    mask, dropped = keep_mask(trips)
    assert mask.tolist() == [True, False, False] and dropped["missing_value"] == 2


def test_fractional_seconds_and_iso_t_are_accepted(tmp_path: Path) -> None:
    row = YELLOW_ROW.replace("2016-03-07 22:04:12", "2016-03-07T22:04:12.250")
    path = write_csv(tmp_path / "yellow_f.csv", YELLOW_HEADER, [row])
    trips = read_raw(path, "yellow")
    assert trips.loc[0, "pickup_second"] == 12 and trips.loc[0, "pickup_weekday"] == 0  # Monday
    assert trips.loc[0, "duration_s"] == pytest.approx(675.75)


def test_bad_number_in_a_later_block_names_its_line(tmp_path: Path, small_blocks) -> None:
    rows = [GREEN_ROW] * 40
    rows[33] = GREEN_ROW.replace(",2.04,", ",NA,")  # 'NA' is text here, not a missing value
    path = write_csv(tmp_path / "green_n.csv", GREEN_HEADER, rows)
    with pytest.raises(InputError) as caught:
        read_raw(path, "green")
    assert str(caught.value) == f"{path}: column 'tripDistance' line 35: 'NA' is not a number"


def test_bad_flag_in_a_later_block_names_its_line(tmp_path: Path, small_blocks) -> None:
    rows = [YELLOW_ROW] * 40
    rows[29] = YELLOW_ROW.replace(",N,", ",maybe,")
    path = write_csv(tmp_path / "yellow_s.csv", YELLOW_HEADER, rows)
    with pytest.raises(InputError) as caught:
        read_raw(path, "yellow")
    assert str(caught.value) == (
        f"{path}: column 'storeAndFwdFlag' line 31: 'maybe' is not N, Y, 0 or 1"
    )


def test_ragged_line_is_not_a_readable_csv(tmp_path: Path) -> None:
    short = ",".join(GREEN_ROW.split(",")[:12])
    path = write_csv(tmp_path / "green_s.csv", GREEN_HEADER, [GREEN_ROW, short])
    with pytest.raises(InputError, match=r"green_s\.csv: not a readable CSV file \("):
        clean_inputs([path])


def test_kept_rows_grow_past_their_reservation() -> None:
    from taxi_fare.cleaning import _KeptRows

    kept = _KeptRows(("a", "b"), capacity=2)
    batches = [np.arange(5.0), np.arange(5.0, 12.0), np.arange(12.0, 15.0)]
    masks = [b % 2 == 0 for b in batches]
    for values, mask in zip(batches, masks, strict=True):
        kept.append({"a": values, "b": -values}, mask)
    expected = np.concatenate([v[m] for v, m in zip(batches, masks, strict=True)])
    np.testing.assert_array_equal(kept.pop("a"), expected)
    np.testing.assert_array_equal(kept.pop("b"), -expected)
