"""The synthetic TLC generator: exact headers, determinism, plausible values, realistic dirt."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from taxi_fare.schema import GREEN_COLUMNS, YELLOW_COLUMNS

from mlops.datagen.generator import generate
from tests.tables import clean, read_inputs

ROWS = 4000


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("gen")
    generate(ROWS, out, seed=11, files_per_kind=2)
    return out


def frame(folder: Path, kind: str) -> pd.DataFrame:
    files = sorted(folder.glob(f"{kind}_*.csv"))
    return pd.concat([pd.read_csv(f, keep_default_na=False, dtype=str) for f in files])


def test_files_and_exact_headers(folder: Path) -> None:
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["green_001.csv", "green_002.csv", "yellow_001.csv", "yellow_002.csv"]
    for path in folder.iterdir():
        header = path.read_text().splitlines()[0]
        expected = GREEN_COLUMNS if path.name.startswith("green") else YELLOW_COLUMNS
        assert header == ",".join(expected)
    rows = {k: len(frame(folder, k)) for k in ("green", "yellow")}
    assert sum(rows.values()) == ROWS
    assert rows["green"] == round(ROWS * 0.35)


def test_same_seed_same_bytes_other_seed_other_data(folder: Path, tmp_path: Path) -> None:
    generate(ROWS, tmp_path / "again", seed=11, files_per_kind=2)
    generate(ROWS, tmp_path / "other", seed=12, files_per_kind=2)
    for path in folder.iterdir():
        assert (tmp_path / "again" / path.name).read_bytes() == path.read_bytes()
        assert (tmp_path / "other" / path.name).read_bytes() != path.read_bytes()


def test_formats(folder: Path) -> None:
    green, yellow = frame(folder, "green"), frame(folder, "yellow")
    stamp = r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$"
    for column in ("lpepPickupDatetime", "lpepDropoffDatetime"):
        assert green[column].str.match(stamp).all()
    assert yellow["tpepPickupDateTime"].str.match(stamp).all()
    assert set(green["storeAndFwdFlag"]) == {"N", "Y"}
    assert (green["ehailFee"] == "").all()
    for kind in (green, yellow):
        empty = (kind["puLocationId"] == "").mean()
        assert 0.5 < empty < 0.9  # often empty, as in the 2016 files
    assert (yellow["startLat"] == "0.0").any()  # missing coordinates are written as 0.0


def test_values_behave_like_trips(folder: Path) -> None:
    trips = frame(folder, "yellow")
    num = trips.drop(columns=["tpepPickupDateTime", "tpepDropoffDateTime", "storeAndFwdFlag"])
    num = num.replace("", np.nan).astype(float)
    pickup = pd.to_datetime(trips["tpepPickupDateTime"])
    minutes = (pd.to_datetime(trips["tpepDropoffDateTime"]) - pickup).dt.total_seconds() / 60
    ok = (num["tripDistance"] > 0) & (minutes > 0) & (num["totalAmount"] > 0)
    assert ok.mean() > 0.9
    parts = ["fareAmount", "extra", "mtaTax", "improvementSurcharge", "tipAmount", "tollsAmount"]
    assert np.allclose(num[parts].sum(axis=1), num["totalAmount"], atol=0.011)
    # Distance and duration agree: typical city speeds, longer trips take longer.
    speed = num["tripDistance"][ok] / (minutes[ok] / 60)
    assert 6 < speed.median() < 20
    distance = num["tripDistance"][ok]
    # Rank correlation: the 1% GPS distance glitches (real dirt) would swamp Pearson's.
    assert distance.corr(minutes[ok], method="spearman") > 0.7
    # Metered fare rises with distance; cash trips carry no tip; airports bring tolls.
    assert distance.corr(num["fareAmount"][ok], method="spearman") > 0.9
    assert (num.loc[num["paymentType"] == 2, "tipAmount"] == 0).all()
    assert (num.loc[num["paymentType"] == 1, "tipAmount"] > 0).mean() > 0.7
    assert (num["tollsAmount"] > 0).mean() > 0.01
    inside = num["startLat"].between(40.49, 40.93) & num["startLon"].between(-74.27, -73.68)
    assert inside.mean() > 0.97
    night = pickup.dt.hour.isin([3, 4])
    assert night.mean() < 1 / 24  # fewer trips at 3-5 am than an even spread


def test_dirt_share_is_realistic(folder: Path) -> None:
    trips, _, _ = read_inputs([folder])
    result = clean(trips)
    share = result.rows_dropped / len(trips)
    assert 0.015 < share < 0.08
    for reason in (
        "outside_nyc_bounding_box",
        "non_positive_distance",
        "non_positive_cost",
        "passenger_count_out_of_range",
        "dropoff_not_after_pickup",
    ):
        assert result.dropped[reason] > 0, reason


def test_cli(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mlops",
            "generate-data",
            "--rows",
            "50",
            "--out",
            str(tmp_path / "cli"),
            "--seed",
            "3",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "wrote 50 rows in 4 files" in done.stdout
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "mlops",
            "generate-data",
            "--rows",
            "1",
            "--out",
            str(tmp_path / "x"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 1
    assert bad.stderr.strip() == "error: --rows must be at least 2, got 1"
    assert not (tmp_path / "x").exists()
