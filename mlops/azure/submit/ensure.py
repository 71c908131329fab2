"""Make sure the environments, data assets and compute a pipeline names exist before submitting.

An asset with a spec in the repository (train-env.yml, data.yml) goes through the same
show-then-create as register-environment.yml / register-data.yml
(:func:`mlops.azure.assets.ensure_asset`). An asset without one must already exist: it is
shown, never invented. The environment's training cluster is created when missing with the
settings create-compute.yml uses; an existing cluster is left as it is (a laptop submit does
not resize the team's cluster; the dev pipeline owns its scale settings).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from mlops.azure.assets import AssetSpec, ensure_asset, read_spec
from mlops.azure.submit.errors import azure_errors
from mlops.azure.submit.spec import TRAIN_DIR, AssetRef, LoadedPipeline, safe_load
from mlops.azure.submit.target import ComputePlan, Target
from mlops.errors import MlopsError

log = logging.getLogger(__name__)

SCHEMA_KIND = {"environment.schema.json": "environment", "data.schema.json": "data"}


@dataclass(frozen=True)
class Ensured:
    """One resource the submit made sure of; ``created`` says whether this run made it."""

    kind: str
    name: str
    detail: str  # the version of an asset, the VM size of a compute
    created: bool

    def __str__(self) -> str:
        what = "created" if self.created else "exists"
        if self.kind == "compute":
            return f"compute {self.name} ({self.detail}, {what})"
        return f"{self.kind} {self.name}:{self.detail} ({what})"


def local_specs(folders: list[Path]) -> dict[tuple[str, str], AssetSpec]:
    """Environment and data specs by (kind, name) in ``folders`` (not recursive)."""
    specs: dict[tuple[str, str], AssetSpec] = {}
    for folder in dict.fromkeys(folders):
        for path in sorted(folder.glob("*.yml")):
            try:
                head = safe_load(path.read_text(encoding="utf-8"))
            except (OSError, yaml.YAMLError):
                continue  # not ours to judge here; `mlops check` reports broken YAML
            schema = str(head.get("$schema", "")) if isinstance(head, dict) else ""
            kind = next((k for suffix, k in SCHEMA_KIND.items() if schema.endswith(suffix)), None)
            if kind is None:
                continue
            spec = read_spec(path, kind)
            specs.setdefault((kind, spec.name), spec)
    return specs


def _show(ops: Any, kind: str, ref: AssetRef) -> str:
    if ref.version is not None:
        found = ops.get(name=ref.name, version=ref.version)
    else:
        found = ops.get(name=ref.name, label=ref.label or "latest")
    return str(found.version)


def _keep(done: list[Ensured], item: Ensured, on_done: Callable[[Ensured], None] | None) -> None:
    done.append(item)
    if on_done is not None:
        on_done(item)  # reported at once: a later failure must not hide what exists now


def ensure_assets(
    client: Any,
    loaded: LoadedPipeline,
    target: Target,
    specs: dict[tuple[str, str], AssetSpec],
    on_done: Callable[[Ensured], None] | None = None,
) -> list[Ensured]:
    """Environments, then data: created from their spec when needed, else shown."""
    done: list[Ensured] = []
    for kind, refs, ops in (
        ("environment", loaded.environments, client.environments),
        ("data", loaded.data_assets, client.data),
    ):
        for ref in refs:
            spec = specs.get((kind, ref.name))
            usable = spec is not None and (
                ref.label == "latest" or (ref.version is not None and ref.version == spec.version)
            )
            hint = (
                f"register it (az ml {kind} create) or change the reference in {loaded.path.name}"
            )
            with azure_errors(f"{kind} {ref}", target.ref, not_found=hint):
                if usable and spec is not None:
                    before = _latest_version(ops, spec)
                    version = ensure_asset(client, spec)
                    _keep(done, Ensured(kind, ref.name, version, version != before), on_done)
                else:
                    _keep(done, Ensured(kind, ref.name, _show(ops, kind, ref), False), on_done)
    return done


def _latest_version(ops: Any, spec: AssetSpec) -> str | None:
    """The version ensure_asset will find, to tell 'created' from 'unchanged' afterwards."""
    from azure.core.exceptions import ResourceNotFoundError

    try:
        if spec.version is not None:
            return str(ops.get(name=spec.name, version=spec.version).version)
        return str(ops.get(name=spec.name, label="latest").version)
    except ResourceNotFoundError:
        return None


def compute_entity(plan: ComputePlan, target: Target) -> Any:
    """The cluster create-compute.yml makes (``az ml compute create --type amlcompute``)."""
    from azure.ai.ml.entities import AmlCompute, IdentityConfiguration, ManagedIdentityConfiguration

    if plan.identity:
        ref = target.ref
        resource_id = (
            f"/subscriptions/{ref.subscription_id}/resourceGroups/{ref.resource_group}"
            f"/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{plan.identity}"
        )
        identity = IdentityConfiguration(
            type="user_assigned",
            user_assigned_identities=[ManagedIdentityConfiguration(resource_id=resource_id)],
        )
    else:
        identity = IdentityConfiguration(type="system_assigned")
    return AmlCompute(
        name=plan.name,
        size=plan.size,
        min_instances=plan.min_instances,
        max_instances=plan.max_instances,
        idle_time_before_scale_down=plan.idle_seconds,
        identity=identity,
    )


def ensure_computes(
    client: Any,
    loaded: LoadedPipeline,
    target: Target,
    on_done: Callable[[Ensured], None] | None = None,
) -> list[Ensured]:
    """Show each compute the job names; create the environment's cluster if it is missing.

    ``compute.begin_create_or_update`` returns an LROPoller; ``result()`` waits for the
    cluster (azure-ai-ml 1.35.2 azure/ai/ml/operations/_compute_operations.py).
    """
    from azure.core.exceptions import ResourceNotFoundError

    done: list[Ensured] = []
    for name in loaded.computes:
        hint = (
            f"create it (az ml compute create --name {name} --type amlcompute) or set "
            "settings.default_compute in the pipeline"
        )
        with azure_errors(f"compute {name}", target.ref, not_found=hint):
            try:
                found = client.compute.get(name)
                _keep(
                    done, Ensured("compute", name, str(getattr(found, "size", "")), False), on_done
                )
                continue
            except ResourceNotFoundError:
                if name != target.compute.name:
                    raise
            entity = compute_entity(target.compute, target)
            log.info("compute %s: not found; creating it (%s)", name, target.compute.size)
            created = client.compute.begin_create_or_update(entity).result()
            _keep(done, Ensured("compute", name, str(getattr(created, "size", "")), True), on_done)
    return done


def spec_folders(loaded: LoadedPipeline) -> list[Path]:
    """Where asset specs are looked for: next to the pipeline, then the repository's train/."""
    folders = [loaded.path.parent, TRAIN_DIR]
    missing = [f for f in folders if not f.is_dir()]
    if missing:
        raise MlopsError(f"spec folder {missing[0]} does not exist")
    return folders
