"""stageprep.py: the newest trips, cleaned, disjoint from training; bad inputs write nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import stageprep
from taxi_fare.schema import FEATURES, TARGET
from taxi_fare.split import write_split
from taxi_fare.stage import StageDataError, build_stage_set, row_keys, within_year_order

GREEN_HEADER = (
    "vendorID,lpepPickupDatetime,lpepDropoffDatetime,passengerCount,tripDistance,puLocationId,"
    "doLocationId,pickupLongitude,pickupLatitude,dropoffLongitude,dropoffLatitude,rateCodeID,"
    "storeAndFwdFlag,paymentType,fareAmount,extra,mtaTax,improvementSurcharge,tipAmount,"
    "tollsAmount,ehailFee,totalAmount,tripType"
)


def _green_row(day: int, minute: int, cost: float, lat: float = 40.75) -> str:
    pickup = f"2016-03-{day:02d} 10:{minute:02d}:00"
    dropoff = f"2016-03-{day:02d} 10:{minute + 10:02d}:00"
    return (
        f"2,{pickup},{dropoff},1,2.5,,,-73.98,{lat},-73.95,40.77,1,N,1,9.0,0.5,0.5,0.3,1.0,0.0,,"
        f"{cost},1"
    )


@pytest.fixture(scope="module")
def raw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """40 March trips, one per (day, minute); two are invalid (outside NYC, zero cost)."""
    folder = tmp_path_factory.mktemp("stage-raw")
    rows = [_green_row(1 + i // 4, (i % 4) * 10, 10.0 + i) for i in range(40)]
    rows[39] = _green_row(10, 30, 49.0, lat=0.0)  # newest trip, outside the bounding box
    rows[38] = _green_row(10, 20, 0.0)  # second newest, non-positive cost
    (folder / "green_2016_03.csv").write_text("\n".join([GREEN_HEADER, *rows]) + "\n")
    return folder


def test_newest_valid_trips_are_chosen_oldest_first(raw: Path) -> None:
    stage = build_stage_set([raw], newest_fraction=0.25, min_rows=1)
    # 38 valid trips; the newest quarter (ceil 9.5 = 10) are trips 28..37 by pickup time.
    assert stage.table[TARGET].tolist() == [10.0 + i for i in range(28, 38)]
    assert list(stage.table.columns) == [*FEATURES, TARGET]
    assert stage.dropped["outside_nyc_bounding_box"] == 1
    assert stage.dropped["non_positive_cost"] == 1
    assert (stage.rows_read, stage.eligible, stage.excluded) == (40, 38, 0)
    assert stage.pickup_range == ("2016-03-08T10:00:00", "2016-03-10T10:10:00")


def test_training_rows_are_excluded_even_from_the_same_files(raw: Path, tmp_path: Path) -> None:
    everything = build_stage_set([raw], newest_fraction=1.0, min_rows=1).table
    training = everything[everything[TARGET] >= 30.0]  # the newest valid trips were trained on
    write_split(training, tmp_path / "train")
    stage = build_stage_set([raw], [tmp_path / "train"], newest_fraction=0.5, min_rows=1)
    assert stage.excluded == len(training) == 18
    assert not set(row_keys(stage.table)) & set(row_keys(training))
    assert stage.table[TARGET].tolist() == [10.0 + i for i in range(10, 20)]


def test_feature_table_is_ordered_within_the_year() -> None:
    frame = pd.DataFrame({name: [0.0, 0.0] for name in FEATURES})
    frame["pickup_month"] = [2.0, 1.0]
    frame["pickup_monthday"] = [1.0, 31.0]
    order = within_year_order(frame)
    assert order[0] > order[1]  # 1 February is after 31 January


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"newest_fraction": 0.0}, "newest_fraction must be in (0, 1], got 0.0"),
        ({"newest_fraction": 0.25, "min_rows": 11}, "only 10 stage rows selected"),
    ],
)
def test_bad_settings_are_errors(raw: Path, kwargs: dict, message: str) -> None:
    with pytest.raises(StageDataError) as info:
        build_stage_set([raw], **kwargs)
    assert message in str(info.value)


def test_everything_excluded_is_an_error(raw: Path, tmp_path: Path) -> None:
    everything = build_stage_set([raw], newest_fraction=1.0, min_rows=1).table
    write_split(everything, tmp_path / "train")
    with pytest.raises(StageDataError, match="all 38 of those are in the excluded"):
        build_stage_set([raw], [tmp_path / "train"], min_rows=1)


def test_main_writes_the_contract_and_a_report(raw: Path, tmp_path: Path) -> None:
    out = tmp_path / "stage"
    assert stageprep.main(["--raw_data", str(raw), "--stage_data", str(out),
                           "--newest_fraction", "0.5", "--min_rows", "5"]) == 0  # fmt: skip
    table = pd.read_parquet(out / "data.parquet")
    assert list(table.columns) == [*FEATURES, TARGET] and len(table) == 19
    assert "read_parquet" in (out / "MLTable").read_text()
    report = json.loads((out / "stage_report.json").read_text())
    assert report["rows_selected"] == 19 and report["ordered_by"] == "pickup timestamp"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (GREEN_HEADER.replace("tripDistance", "distance") + "\n", "lacks required column"),
        (GREEN_HEADER + "\n" + _green_row(1, 0, 10.0).replace("2.5", "far"), "'far' is not"),
    ],
)
def test_bad_raw_file_exits_1_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    bad = tmp_path / "green_bad.csv"
    bad.write_text(content)
    out = tmp_path / "stage"
    assert stageprep.main(["--raw_data", str(bad), "--stage_data", str(out)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {bad}") and message in err[0]
    assert not out.exists()
