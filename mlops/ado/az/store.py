"""What the emulated Azure holds: one JSON document under ``$MLOPS_HOME/azure/``.

Workspaces (and the registry) exist from the start, named as the infrastructure would name
them: the variable templates ``config-infra-<env>.yml`` + ``variables/names.yml`` of the
repository, compiled by :mod:`mlops.ado.expand` (the one model of the Azure DevOps YAML).
The dev workspace's models are the local twin's MLflow registry (``$MLOPS_HOME/dev``),
because the training pipeline registers there; the registry's models are copies made by
``model share`` under ``$MLOPS_HOME/azure/registries/``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mlops import settings
from mlops.errors import MlopsError
from mlops.yamlload import load

SUBSCRIPTION_ID = str(uuid.uuid5(uuid.NAMESPACE_URL, "mlops-ado-emulated-subscription"))
TENANT_ID = str(uuid.uuid5(uuid.NAMESPACE_URL, "mlops-ado-emulated-tenant"))


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def sources_root() -> Path:
    """The repository the run works on (Build.SourcesDirectory), else this checkout."""
    given = os.environ.get("BUILD_SOURCESDIRECTORY")
    if given:
        return Path(given)
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--show-toplevel"], capture_output=True, text=True, check=True
        )
        root = Path(done.stdout.strip())
        if (root / "config-infra-dev.yml").is_file():
            return root
    except (OSError, subprocess.CalledProcessError):
        pass
    return settings.REPO_ROOT


def environment_names(env: str, root: Path) -> dict[str, str]:
    """The derived Azure names of one environment, as the pipelines compute them."""
    from mlops.ado.expand import Expander, Scope
    from mlops.ado.runner import Variables

    text = (
        f"variables:\n  - template: /config-infra-{env}.yml\n"
        "  - template: /mlops/devops-pipelines/variables/names.yml\n"
    )
    doc = load(text, strings=True)
    expander = Expander(root)
    items = expander._variables(doc["variables"], Scope("<names>", {}, {}), 1)
    values = Variables({str(i["name"]): str(i["value"]) for i in items if "name" in i})
    return {name: values.expand(value) for name, value in values.mapping().items()}


class Store:
    """The state file, read and written under an exclusive lock."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.path = home / "state.json"
        self.data: dict[str, Any] = {}

    @classmethod
    def open(cls) -> Store:
        base = os.environ.get("MLOPS_AZURE_EMULATOR") or str(settings.mlops_home() / "azure")
        store = cls(Path(base))
        store.home.mkdir(parents=True, exist_ok=True)
        with store.locked():
            pass
        return store

    @contextlib.contextmanager
    def locked(self) -> Iterator[dict[str, Any]]:
        """Load, yield for changes, save atomically; other processes wait meanwhile."""
        self.home.mkdir(parents=True, exist_ok=True)
        with open(self.home / ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            self.data = json.loads(self.path.read_text()) if self.path.is_file() else {}
            if not self.data:
                self.data = self._provision()
            yield self.data
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(self.data, indent=2, sort_keys=False) + "\n")
            os.replace(tmp, self.path)

    def read(self) -> dict[str, Any]:
        with self.locked() as data:
            return json.loads(json.dumps(data))

    def _provision(self) -> dict[str, Any]:
        root = sources_root()
        data: dict[str, Any] = {"workspaces": {}, "registries": {}}
        for env in settings.ENVIRONMENTS:
            if not (root / f"config-infra-{env}.yml").is_file():
                raise MlopsError(
                    f"{root}: config-infra-{env}.yml not found; cannot name the {env} workspace"
                )
            names = environment_names(env, root)
            data["workspaces"][names["aml_workspace"]] = {
                "env": env,
                "resource_group": names["resource_group"],
                "location": names.get("location", "westeurope"),
                "models": {},
                "environments": {},
                "data": {},
                "computes": {},
                "online_endpoints": {},
                "batch_endpoints": {},
                "jobs": {},
            }
            registry = names["aml_registry"]
            data["registries"].setdefault(
                registry, {"resource_group": names.get("shared_resource_group", ""), "models": {}}
            )
        return data

    def snapshot(self) -> dict[str, Any]:
        """The shape ``mlops ado state --json`` prints."""
        from mlops.ado.az import models

        data = self.read()
        result: dict[str, Any] = {"workspaces": {}, "registries": {}}
        for name, ws in data["workspaces"].items():
            result["workspaces"][name] = {
                "env": ws["env"],
                "models": models.workspace_models(ws),
                "online_endpoints": {
                    ep: {
                        "traffic": dict(info.get("traffic") or {}),
                        "deployments": {
                            d: {
                                "model": dep.get("model"),
                                "instance_type": dep.get("instance_type"),
                                "instance_count": dep.get("instance_count"),
                            }
                            for d, dep in (info.get("deployments") or {}).items()
                        },
                        "traffic_history": list(info.get("traffic_history") or []),
                    }
                    for ep, info in ws["online_endpoints"].items()
                },
                "batch_endpoints": {
                    ep: {
                        "default_deployment": info.get("default_deployment"),
                        "deployments": {
                            d: {"model": dep.get("model")}
                            for d, dep in (info.get("deployments") or {}).items()
                        },
                    }
                    for ep, info in ws["batch_endpoints"].items()
                },
                "jobs": {
                    job: {
                        k: v
                        for k, v in info.items()
                        if k
                        in (
                            "type",
                            "status",
                            "experiment_name",
                            "display_name",
                            "created_at",
                            "parent",
                        )
                    }
                    for job, info in ws["jobs"].items()
                },
            }
        for name, registry in data["registries"].items():
            result["registries"][name] = {
                "models": {
                    model: [
                        {"version": v["version"], "tags": dict(v.get("tags") or {})}
                        for v in versions
                    ]
                    for model, versions in registry["models"].items()
                }
            }
        return result
