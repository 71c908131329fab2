"""The inputs the benches build: request bodies both servers accept, floor and batch files."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import score
from taxi_fare.schema import FEATURES, TARGET

from bench.batch_bench import FILES, count_predictions, write_inputs
from bench.online_bench import azureml_body, mlflow_body
from bench.prep_floor import convert
from bench.prep_floor import main as floor_main

ROW = {name: float(i) for i, name in enumerate(FEATURES)}


def test_azureml_body_is_a_request_score_py_accepts() -> None:
    columns, rows = score.rows_by_column(score.parse_body(azureml_body(ROW)), limit=1)
    assert columns == list(FEATURES)
    assert rows == [[float(i) for i in range(len(FEATURES))]]


def test_mlflow_body_is_the_split_form_by_name() -> None:
    body = json.loads(mlflow_body(ROW))
    frame = pd.DataFrame(**body["dataframe_split"])
    assert list(frame.columns) == list(FEATURES)
    assert frame.loc[0, "pickup_hour"] == ROW["pickup_hour"]


def test_floor_writes_every_row_as_parquet(tmp_path: Path) -> None:
    csv = tmp_path / "green_001.csv"
    csv.write_text("a,b\n1,x\n2,y\n3,z\n")
    assert convert([csv], tmp_path / "out") == 3
    table = pq.read_table(tmp_path / "out" / "green_001.parquet")
    assert table.column("a").to_pylist() == [1, 2, 3]
    assert table.column("b").to_pylist() == ["x", "y", "z"]


def test_floor_cli_needs_a_file(capsys) -> None:
    assert floor_main(["out"]) == 2
    assert "usage" in capsys.readouterr().err


def test_batch_inputs_split_a_sample_over_files(tmp_path: Path) -> None:
    split = tmp_path / "test"
    split.mkdir()
    table = pd.DataFrame({name: [float(i)] * 10 for i, name in enumerate(FEATURES)})
    table[TARGET] = range(10)
    table.to_parquet(split / "data.parquet")
    folder = tmp_path / "batch"
    assert write_inputs(split, 7, folder) == 7
    parts = sorted(folder.iterdir())
    assert len(parts) == FILES
    costs = pd.concat(pd.read_parquet(p) for p in parts)[TARGET]
    assert len(costs) == 7 and costs.is_unique and set(costs) <= set(range(10))
    predictions = tmp_path / "predictions.csv"
    predictions.write_text("file,row,prediction\na,0,1.0\na,1,2.0\n")
    assert count_predictions(predictions) == 2
