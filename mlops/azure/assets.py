"""Show-then-create for versioned Azure ML assets (environment, data) from their YAML specs.

A spec with an explicit ``version`` is created once and left alone after that.
A spec without one gets a content fingerprint tag: when the latest registered
version carries the same fingerprint nothing is created, otherwise Azure ML
auto-increments a new version. Either way a re-run converges instead of failing
on "already exists" or piling up identical versions.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from mlops.errors import MlopsError

log = logging.getLogger(__name__)

FINGERPRINT_TAG = "mlops_fingerprint"
KINDS = ("environment", "data")


@dataclass(frozen=True)
class AssetSpec:
    kind: str
    name: str
    version: str | None
    fingerprint: str
    path: Path


def _hash_path(digest: Any, path: Path) -> None:
    if path.is_file():
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    elif path.is_dir():
        for item in sorted(p for p in path.rglob("*") if p.is_file()):
            digest.update(str(item.relative_to(path)).encode())
            digest.update(item.read_bytes())
    else:
        raise MlopsError(f"referenced local path {path} does not exist")


def read_spec(path: Path, kind: str | None = None) -> AssetSpec:
    """Name, version, kind and content fingerprint of an environment or data spec."""
    try:
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise MlopsError(f"{path}: cannot read asset spec ({exc})") from exc
    if not isinstance(spec, dict):
        raise MlopsError(f"{path}: an asset spec must be a YAML mapping")
    schema = str(spec.get("$schema", ""))
    detected = next((k for k in KINDS if f"/{k}.schema.json" in schema), None)
    kind = kind or detected
    if kind not in KINDS:
        raise MlopsError(f"{path}: cannot tell the asset kind from $schema {schema!r}; pass --kind")
    name = spec.get("name")
    if not isinstance(name, str) or not name:
        raise MlopsError(f"{path}: key 'name' is missing")
    version = spec.get("version")
    digest = hashlib.sha256(path.read_bytes())
    for key in ("conda_file", "path"):
        ref = spec.get(key)
        if isinstance(ref, str) and "://" not in ref and not ref.startswith("azureml:"):
            _hash_path(digest, (path.parent / ref).resolve())
    version_text = None if version is None else str(version)
    return AssetSpec(kind, name, version_text, digest.hexdigest(), path)


def _operations(client: Any, kind: str) -> Any:
    return client.environments if kind == "environment" else client.data


def _load_entity(spec: AssetSpec) -> Any:
    from azure.ai.ml import load_data, load_environment

    loader = load_environment if spec.kind == "environment" else load_data
    return loader(source=str(spec.path))


def _not_found(exc: BaseException) -> bool:
    from azure.core.exceptions import ResourceNotFoundError

    return isinstance(exc, ResourceNotFoundError)


def ensure_asset(client: Any, spec: AssetSpec, load_entity: Any = _load_entity) -> str:
    """Return the asset version in use after making sure it exists; creates at most one."""
    ops = _operations(client, spec.kind)
    try:
        if spec.version is not None:
            existing = ops.get(name=spec.name, version=spec.version)
        else:
            existing = ops.get(name=spec.name, label="latest")
    except Exception as exc:
        if not _not_found(exc):
            raise MlopsError(f"{spec.kind} {spec.name}: cannot look it up: {exc}") from exc
        existing = None
    if existing is not None:
        if spec.version is not None:
            held = (getattr(existing, "tags", None) or {}).get(FINGERPRINT_TAG)
            if held is not None and held != spec.fingerprint:
                raise MlopsError(
                    f"{spec.path}: {spec.kind} {spec.name}:{spec.version} already exists with "
                    "other content; bump `version:` in the spec (a pinned version never changes)"
                )
            log.info("%s %s:%s exists; unchanged", spec.kind, spec.name, spec.version)
            return str(existing.version)
        if (getattr(existing, "tags", None) or {}).get(FINGERPRINT_TAG) == spec.fingerprint:
            log.info("%s %s:%s matches the spec; unchanged", spec.kind, spec.name, existing.version)
            return str(existing.version)
    entity = load_entity(spec)
    entity.tags = {**(entity.tags or {}), FINGERPRINT_TAG: spec.fingerprint}
    created = ops.create_or_update(entity)
    log.info("%s %s:%s created", spec.kind, spec.name, created.version)
    return str(created.version)
