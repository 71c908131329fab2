"""The emulated workspace's model versions are read from the twin's MLflow sqlite file as
MLflow's own client lists them (mlops/ado/az/models.py: _mlflow_versions)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from mlops import settings
from mlops.ado.az import models


def _through_mlflow(env: str) -> list[dict[str, Any]]:
    """What the emulator returned before: MlflowClient's search, the oracle."""
    from mlflow.tracking import MlflowClient

    uri = settings.tracking_uri(env)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    found = []
    for model in client.search_registered_models():
        for mv in client.search_model_versions(f"name='{model.name}'"):
            found.append({"name": mv.name, "version": int(mv.version), "tags": dict(mv.tags)})
    return sorted(found, key=lambda m: (m["name"], m["version"]))


def test_sqlite_read_equals_mlflows_client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("MLOPS_HOME", str(tmp_path))
    settings.store_dir("dev").mkdir(parents=True)
    uri = settings.tracking_uri("dev")
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    for name in ("taxi-fare", "other"):
        client.create_registered_model(name)
    for i in range(3):
        client.create_model_version(
            "taxi-fare", source=(tmp_path / f"m{i}").as_uri(), tags={"trainer": "rf", "i": str(i)}
        )
    client.create_model_version("other", source=(tmp_path / "o").as_uri())
    client.set_model_version_tag("taxi-fare", "2", "stage_passed", "true")
    client.delete_model_version("taxi-fare", "1")  # soft-deleted: MLflow no longer lists it

    read = models._mlflow_versions("dev")
    assert read == _through_mlflow("dev")
    assert [(m["name"], m["version"]) for m in read] == [
        ("other", 1), ("taxi-fare", 2), ("taxi-fare", 3)
    ]  # fmt: skip
    assert read[1]["tags"] == {"trainer": "rf", "i": "1", "stage_passed": "true"}
    assert read[0]["tags"] == {}


def test_a_store_without_registry_tables_holds_no_versions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLOPS_HOME", str(tmp_path))
    assert models._mlflow_versions("dev") == []  # no file yet
    settings.store_dir("dev").mkdir(parents=True)
    sqlite3.connect(settings.store_dir("dev") / "mlflow.db").close()  # an empty database
    assert models._mlflow_versions("dev") == []


def test_a_corrupt_store_is_an_error_not_an_empty_workspace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLOPS_HOME", str(tmp_path))
    settings.store_dir("dev").mkdir(parents=True)
    (settings.store_dir("dev") / "mlflow.db").write_text("not a database")
    with pytest.raises(sqlite3.DatabaseError):
        models._mlflow_versions("dev")
