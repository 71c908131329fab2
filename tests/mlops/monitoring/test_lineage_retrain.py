"""Default baseline through lineage, and what --retrain hands the training pipeline."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from mlops import settings
from mlops.errors import MlopsError
from mlops.monitoring import lineage, run


def test_the_served_versions_run_names_its_training_split(monkeypatch, tmp_path):
    from mlops.registry import local_registry, model_source

    served = SimpleNamespace(name="taxi-fare", version=4, store="dev", path=tmp_path / "m")
    monkeypatch.setattr(model_source, "served_model", lambda env: served)
    monkeypatch.setattr(
        local_registry, "dev_version",
        lambda version, name: SimpleNamespace(tags={"pipeline_run_id": "abc", "trainer": "rf"}),
    )  # fmt: skip
    found = lineage.served_lineage("dev")
    assert found.train_split == settings.runs_dir() / "abc" / "prep" / "train_data"
    assert found.trainer == "rf"
    with pytest.raises(MlopsError, match=r"its training split .* is gone; pass --baseline"):
        lineage.training_split(found)
    split = found.train_split
    split.mkdir(parents=True)
    (split / "data.parquet").write_bytes(b"")
    assert lineage.training_split(found) == split


def test_a_version_without_lineage_asks_for_a_baseline(tmp_path):
    bare = lineage.Lineage("prod", "taxi-fare", 2, tmp_path, None, None)
    with pytest.raises(MlopsError, match="prod serves taxi-fare version 2, which has no"):
        lineage.training_split(bare)


def test_no_store_no_baseline_is_one_line_and_creates_no_store(tmp_path):
    target = tmp_path / "t.parquet"
    pd.DataFrame(
        {f: [1.0] for f in run.load_monitor_spec(run.spec_path("dev")).features}
    ).to_parquet(target)
    with pytest.raises(MlopsError, match="no model registered for dev yet"):
        run.monitor("dev", target=target)
    assert not (settings.store_dir("dev") / "mlflow.db").exists()


def test_retrain_feeds_baseline_and_target_rows_as_one_feature_table(monkeypatch, trips, baseline):
    from taxi_fare.ingest import detect_kind, read_header
    from taxi_fare.schema import FEATURE_TABLE

    import mlops.local.commands as local_commands

    target = trips(2_000, 61, distance_scale=1.5)
    seen: dict[str, object] = {}

    def fake_train(data, trainer, env):
        seen.update(data=data, trainer=trainer, env=env)
        files = sorted(Path(data[0]).glob("*.csv"))
        seen["kinds"] = [detect_kind(f, read_header(f)) for f in files]
        seen["rows"] = sum(len(pd.read_csv(f)) for f in files)

    monkeypatch.setattr(local_commands, "train", fake_train)
    monitored = SimpleNamespace(
        baseline=baseline, target=target, baseline_path=Path("b"), target_path=Path("t"),
        lineage=SimpleNamespace(trainer="automl"),
    )  # fmt: skip
    run.retrain(monitored)
    assert seen["env"] == "dev" and seen["trainer"] == "automl"
    assert seen["kinds"] == [FEATURE_TABLE, FEATURE_TABLE]
    assert seen["rows"] == baseline.rows + target.rows
    assert np.isfinite(target.labels).all()
