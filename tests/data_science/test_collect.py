"""Collection from the scoring scripts: hourly parquet partitions the monitor reads back."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from taxi_fare import collect

from mlops import settings
from mlops.monitoring.data import read_table
from tests.endpoint_models import feature_frame

SRC = settings.REPO_ROOT / "data-science" / "src"
FEATURES = ("a", "b")


def _load(name: str):
    """A fresh copy of a scoring script (its module state is per copy); src is on pytest's path."""
    spec = importlib.util.spec_from_file_location(f"{name}_under_test", SRC / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_rows_land_in_the_partition_of_their_hour(tmp_path, monkeypatch):
    clock = iter([1_700_000_000.0, 1_700_000_100.0, 1_700_003_700.0])  # 22:13, 22:15, 23:15
    monkeypatch.setattr(collect.time, "time", lambda: next(clock))
    sink = collect.ParquetCollector(tmp_path, FEATURES, "online", flush_seconds=3600)
    for i in range(3):
        sink(np.array([[i, i + 0.5]]), [10.0 + i])
    written = sink.flush()
    sink.close()
    assert sorted(p.relative_to(tmp_path).parent.as_posix() for p in written) == [
        "date=2023-11-14/hour=22", "date=2023-11-14/hour=23"
    ]  # fmt: skip
    frame = pd.concat(pd.read_parquet(p) for p in sorted(written))
    assert frame["a"].tolist() == [0.0, 1.0, 2.0]
    assert frame["prediction"].tolist() == [10.0, 11.0, 12.0]
    assert str(frame["collected_at"].dt.tz) == "UTC"
    assert not list(tmp_path.rglob(".*"))  # no partial file left behind


def test_off_unless_a_sink_is_configured(monkeypatch):
    for name in (collect.DIR_ENV, "AZUREML_MDC_ENABLED", "AZUREML_MDC_CONFIG_PATH"):
        monkeypatch.delenv(name, raising=False)
    assert collect.collector(FEATURES, "online") is None


def test_local_endpoints_collect_by_default_and_can_be_turned_off(monkeypatch):
    monkeypatch.delenv("MLOPS_COLLECT", raising=False)
    assert settings.collection_env("stage") == {
        "TAXI_FARE_COLLECT_DIR": str(settings.mlops_home() / "stage" / "collected")
    }
    monkeypatch.setenv("MLOPS_COLLECT", "off")
    assert settings.collection_env("stage") == {}


def test_azure_sink_uses_the_documented_collections(monkeypatch):
    pytest.importorskip("azureml.ai.monitoring")
    monkeypatch.delenv(collect.DIR_ENV, raising=False)
    monkeypatch.setenv("AZUREML_MDC_ENABLED", "true")
    seen: list[tuple[str, pd.DataFrame]] = []

    class FakeCollector:  # the library sends to a sidecar that only exists on Azure
        def __init__(self, *, name, on_error=None):
            self.name = name

        def collect(self, data, correlation_context=None):
            seen.append((self.name, data))
            return "context"

    import azureml.ai.monitoring as mdc

    monkeypatch.setattr(mdc, "Collector", FakeCollector)
    sink = collect.collector(FEATURES, "online")
    sink(np.array([[1.0, 2.0]]), [9.5])
    assert [n for n, _ in seen] == ["model_inputs", "model_outputs"]
    assert seen[0][1].columns.tolist() == list(FEATURES)
    assert seen[1][1]["cost"].tolist() == [9.5]


def test_score_and_batch_scripts_collect_what_they_score(tmp_path, monkeypatch, models):
    collected = tmp_path / "collected"
    monkeypatch.setenv(collect.DIR_ENV, str(collected))
    monkeypatch.setenv("AZUREML_MODEL_DIR", str(models["good"]))
    score = _load("score")
    score.init()
    rows = feature_frame(3, seed=5)
    body = {"input_data": {"columns": list(rows.columns), "data": rows.values.tolist()}}
    predictions = score.run(json.dumps(body))
    assert len(predictions) == 3
    refused = score.run(json.dumps({"input_data": {"columns": ["distance"], "data": [[1]]}}))
    assert getattr(refused, "status_code", 400) == 400
    score._COLLECT.close()

    batch = _load("batch_score")
    batch.init()
    frame = feature_frame(4, seed=6)
    frame.to_csv(tmp_path / "in.csv", index=False)
    assert len(batch.run([str(tmp_path / "in.csv")])) == 4
    batch._COLLECT.close()

    table = read_table(collected, tuple(rows.columns))
    assert table.rows == 7  # the refused request is not collected
    assert set(np.round(predictions, 6)) <= set(np.round(table.predictions, 6))
    sources = sorted(p.name.split("-")[0] for p in Path(collected).rglob("*.parquet"))
    assert sources == ["batch", "online"]
