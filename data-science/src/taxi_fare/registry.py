"""Registry operations the steps use, limited to what Azure ML's MLflow supports.

No aliases and no stages (Azure ML supports neither): every version went through
the gate, so the champion is the highest version. Lookups use
``search_model_versions`` by name and filter tags client-side.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from taxi_fare.errors import TaxiFareError

if TYPE_CHECKING:
    from mlflow import MlflowClient

log = logging.getLogger(__name__)

#: Tag that identifies the saved model (``model_uuid`` of its MLmodel file): re-registering
#: the same model folder finds this tag and returns the existing version.
MODEL_UUID_TAG = "model_uuid"
LINEAGE_TAGS: tuple[str, ...] = ("git_commit", "data_fingerprint", "pipeline_run_id", "trainer")


class RegistryError(TaxiFareError):
    """The registry cannot be read or written."""


@dataclass(frozen=True)
class Version:
    name: str
    version: int
    run_id: str | None
    tags: dict[str, str]

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"


def model_uuid(folder: str | Path) -> str:
    """The ``model_uuid`` MLflow wrote into a model folder's MLmodel file: its identity.

    Read with yaml alone, so the register step decides without importing sklearn.
    """
    import yaml

    path = Path(folder) / "MLmodel"
    try:
        uuid = yaml.safe_load(path.read_text(encoding="utf-8")).get("model_uuid")
    except (OSError, UnicodeDecodeError, yaml.YAMLError, AttributeError) as exc:
        raise RegistryError(
            f"{folder}: not an MLflow model ({path.name} unreadable: {exc})"
        ) from None
    if not isinstance(uuid, str) or not uuid:
        raise RegistryError(f"{path}: has no model_uuid; save the model with MLflow")
    return uuid


def versions(client: MlflowClient, name: str) -> list[Version]:
    """All versions of ``name``, oldest first; none when the model does not exist yet."""
    try:
        found = client.search_model_versions(f"name='{name}'")
    except Exception as exc:  # MlflowException and transport errors
        raise RegistryError(f"cannot list the versions of {name!r}: {exc}") from exc
    out = [Version(name, int(mv.version), mv.run_id, dict(mv.tags or {})) for mv in found]
    return sorted(out, key=lambda v: v.version)


def champion(client: MlflowClient, name: str) -> Version | None:
    """The champion: the highest registered version, or None before the first."""
    found = versions(client, name)
    return found[-1] if found else None


def find_by_tag(client: MlflowClient, name: str, key: str, value: str) -> Version | None:
    """The first version whose tag ``key`` equals ``value``."""
    for version in versions(client, name):
        if version.tags.get(key) == value:
            return version
    return None


def register(model_uri: str, name: str, tags: dict[str, str]) -> Version:
    """Register ``model_uri`` (a ``runs:/`` URI) under ``name`` with tags; waits until READY."""
    import mlflow

    try:
        mv = mlflow.register_model(model_uri, name, tags=tags)
    except Exception as exc:  # MlflowException and transport errors
        raise RegistryError(f"cannot register {model_uri} as {name!r}: {exc}") from exc
    return Version(name, int(mv.version), mv.run_id, dict(tags))
