"""Model versions of the emulated workspaces (the twin's MLflow stores) and registries."""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

from mlops import settings

# What MLflow's SqlAlchemyStore.search_model_versions returns, read straight from its sqlite
# file: the versions of the active workspace ("default", mlflow.utils.workspace_utils
# DEFAULT_WORKSPACE_NAME; SqlAlchemyStore._filter_by_workspace) that are not soft-deleted
# (SqlModelVersion.current_stage != STAGE_DELETED_INTERNAL, mlflow/store/model_registry/
# sqlalchemy_store.py), with their tags (model_version_tags). Importing MLflow to ask its
# client cost 5-7 s of CPU per `az ml model` call and per `mlops ado state`; sqlite3 costs
# milliseconds. tests/mlops/ado/test_models_sqlite.py compares the two on one store.
_VERSIONS_SQL = """
SELECT mv.name, mv.version FROM model_versions AS mv
JOIN registered_models AS rm ON rm.name = mv.name AND rm.workspace = mv.workspace
WHERE mv.workspace = ? AND mv.current_stage != ?
"""
_TAGS_SQL = "SELECT name, version, key, value FROM model_version_tags WHERE workspace = ?"
_WORKSPACE = "default"
_DELETED = "Deleted_Internal"  # mlflow.entities.model_registry.model_version_stages


def _mlflow_versions(env: str) -> list[dict[str, Any]]:
    """Registered versions of the twin's MLflow store of ``env`` (none before the first run)."""
    db = settings.store_dir(env) / "mlflow.db"
    if not db.is_file():
        return []
    connection = sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True, timeout=30)
    try:
        rows = connection.execute(_VERSIONS_SQL, (_WORKSPACE, _DELETED)).fetchall()
        tag_rows = connection.execute(_TAGS_SQL, (_WORKSPACE,)).fetchall()
    except sqlite3.OperationalError as error:
        if "no such table" in str(error):  # MLflow made the file but no registry tables yet
            return []
        raise
    finally:
        connection.close()
    tags: dict[tuple[str, int], dict[str, str]] = {}
    for name, version, tag, value in tag_rows:
        tags.setdefault((name, int(version)), {})[tag] = value
    found = [
        {"name": name, "version": int(version), "tags": tags.get((name, int(version)), {})}
        for name, version in rows
    ]
    return sorted(found, key=lambda m: (m["name"], m["version"]))


def workspace_models(ws: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """name -> versions (oldest first) with tags: the twin's MLflow store plus created ones."""
    result: dict[str, list[dict[str, Any]]] = {}
    for mv in _mlflow_versions(ws["env"]):
        merged = {**mv["tags"], **(ws["models"].get(mv["name"], {}).get(str(mv["version"]), {}))}
        result.setdefault(mv["name"], []).append({"version": mv["version"], "tags": merged})
    return result


def workspace_model(ws: dict[str, Any], name: str, version: str | None) -> dict[str, Any] | None:
    versions = workspace_models(ws).get(name) or []
    if not versions:
        return None
    if version in (None, "", "latest"):
        return versions[-1]
    return next((v for v in versions if str(v["version"]) == str(version)), None)


def set_workspace_tags(ws: dict[str, Any], name: str, version: str, tags: dict[str, str]) -> None:
    ws["models"].setdefault(name, {}).setdefault(str(version), {}).update(tags)


def download_workspace_model(env: str, name: str, version: str, target: Path) -> Path:
    """The model folder of a workspace version, copied to ``target``."""
    import os

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # one line per step log
    import mlflow

    uri = settings.tracking_uri(env)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as staging:
        local = Path(
            mlflow.artifacts.download_artifacts(
                artifact_uri=f"models:/{name}/{version}", dst_path=staging, tracking_uri=uri
            )
        )
        shutil.copytree(local, target, dirs_exist_ok=True)
    return target


def registry_dir(home: Path, registry: str, name: str, version: str) -> Path:
    return home / "registries" / registry / "models" / name / str(version)


def registry_model(
    data: dict[str, Any], registry: str, name: str, version: str | None
) -> dict[str, Any] | None:
    versions = (data["registries"].get(registry) or {}).get("models", {}).get(name) or []
    if not versions:
        return None
    if version in (None, "", "latest"):
        return versions[-1]
    return next((v for v in versions if str(v["version"]) == str(version)), None)
