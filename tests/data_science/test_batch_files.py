"""taxi_fare.serving.batch_files: reading a batch input file's columns and writing its rows."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from taxi_fare.serving.batch_files import BadFile, format_rows, read_features
from taxi_fare.serving.payload import Column

COLUMNS = (Column("distance", "float64", False), Column("passengers", "float64", False))


def write(tmp_path: Path, frame: pd.DataFrame, name: str = "trips.parquet") -> Path:
    path = tmp_path / name
    if name.endswith(".parquet"):
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)
    return path


def test_numeric_columns_are_read_by_name_as_the_same_doubles(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    distance = rng.random(50) * 20
    frame = pd.DataFrame({"extra": "x", "passengers": np.arange(50, dtype="int64"),
                          "distance": distance})  # fmt: skip
    got = read_features(write(tmp_path, frame), COLUMNS)
    assert list(got.columns) == ["distance", "passengers"]
    assert got["distance"].to_numpy().tobytes() == distance.tobytes()
    assert got["passengers"].tolist() == [float(i) for i in range(50)]
    assert got.dtypes.tolist() == [np.float64, np.float64]


def test_text_numbers_in_a_csv_are_parsed(tmp_path: Path) -> None:
    frame = pd.DataFrame({"distance": ["1.5", "2.25"], "passengers": ["1", "2"]})
    got = read_features(write(tmp_path, frame, "t.csv"), COLUMNS)
    assert got.to_numpy().tolist() == [[1.5, 1.0], [2.25, 2.0]]


@pytest.mark.parametrize(
    ("cells", "bad_row", "shown"),
    [
        (pd.array([1.0, np.nan, 3.0], dtype="float64"), 1, "nan"),
        (pd.array([1.0, 2.0, np.inf], dtype="float64"), 2, "inf"),
        (pd.array([1, None, 3], dtype="Int64"), 1, "<NA>"),
    ],
)
def test_a_missing_or_infinite_cell_names_file_column_row_and_value(
    tmp_path: Path, cells: pd.api.extensions.ExtensionArray, bad_row: int, shown: str
) -> None:
    frame = pd.DataFrame({"distance": [1.0, 2.0, 3.0], "passengers": cells})
    with pytest.raises(BadFile) as caught:
        read_features(write(tmp_path, frame), COLUMNS)
    assert str(caught.value) == (
        f"trips.parquet: column 'passengers' row {bad_row}: {shown} is not a finite number"
    )


def test_rows_are_file_row_and_the_exact_prediction(tmp_path: Path) -> None:
    predictions = [12.5, 0.1 + 0.2, 1e-05, np.float64(7.25)]
    lines = format_rows('odd, "name".csv', predictions)
    parsed = list(csv.reader(io.StringIO("\n".join(lines))))
    assert [p[0] for p in parsed] == ['odd, "name".csv'] * 4
    assert [int(p[1]) for p in parsed] == [0, 1, 2, 3]
    assert [float(p[2]) for p in parsed] == [float(v) for v in predictions]  # round trip
    assert parsed[1][2] == "0.30000000000000004"
