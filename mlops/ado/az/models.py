"""Model versions of the emulated workspaces (the twin's MLflow stores) and registries."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from mlops import settings


def _mlflow_versions(env: str) -> list[dict[str, Any]]:
    """Registered versions of the twin's MLflow store of ``env`` (none before the first run)."""
    db = settings.store_dir(env) / "mlflow.db"
    if not db.is_file():
        return []
    from mlflow.tracking import MlflowClient

    uri = settings.tracking_uri(env)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    found = []
    for model in client.search_registered_models():
        for mv in client.search_model_versions(f"name='{model.name}'"):
            found.append({"name": mv.name, "version": int(mv.version), "tags": dict(mv.tags or {})})
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
