"""``azureml:`` references to assets (data, environments, components, models)."""

from __future__ import annotations

import re
from dataclasses import dataclass

_REGISTRY = re.compile(
    r"^azureml://registries/([^/]+)/(\w+)/([^/]+)(?:/versions/([^/]+)|/labels/([^/]+))?/?$"
)
_DATASTORE = re.compile(r"^azureml://datastores/([^/]+)/paths/(.*)$")
# Curated environments: Azure ML's own, resolvable in every workspace by short name.
CURATED_PREFIX = "AzureML-"


@dataclass(frozen=True)
class AssetRef:
    """``azureml:NAME@LABEL``, ``azureml:NAME:VERSION``, ``azureml:NAME`` or a registry id."""

    name: str
    version: str | None = None  # None with label None means latest
    label: str | None = None
    registry: str | None = None

    @property
    def latest(self) -> bool:
        return self.version is None and self.label in (None, "latest")

    def __str__(self) -> str:
        if self.version is not None:
            return f"{self.name}:{self.version}"
        return f"{self.name}@{self.label or 'latest'}"


def asset_ref(value: str) -> AssetRef | None:
    """The reference an ``azureml:`` string makes, or None when it is not one (a local path,
    a URL, a datastore path, an ARM id). The forms follow azure-ai-ml 1.35.2
    operations/_job_operations.py:_resolve_job_input (``:`` or ``@`` = asset id)."""
    match = _REGISTRY.match(value)
    if match:
        registry, _kind, name, version, label = match.groups()
        return AssetRef(name, version, label, registry)
    if not value.startswith("azureml:") or value.startswith("azureml://"):
        return None
    body = value.removeprefix("azureml:")
    if body.startswith("/"):
        return None  # an ARM id
    if "@" in body:
        name, label = body.split("@", 1)
        return AssetRef(name, label=label)
    if ":" in body:
        name, version = body.split(":", 1)
        return AssetRef(name, version=version)
    return AssetRef(body)


def datastore_path(value: str) -> tuple[str, str] | None:
    """(datastore, path) of ``azureml://datastores/<ds>/paths/<path>``, else None."""
    match = _DATASTORE.match(value)
    return (match.group(1), match.group(2)) if match else None


def is_curated(ref: AssetRef) -> bool:
    """An Azure ML curated environment (the ``azureml`` registry or an ``AzureML-`` name)."""
    return ref.registry == "azureml" or ref.name.startswith(CURATED_PREFIX)
