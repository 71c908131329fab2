"""Which workspace, compute and experiment a submit goes to, from ``config-infra-<env>.yml``.

The names come from the same two files the Azure DevOps pipelines read
(config-infra-<env>.yml, then variables/names.yml), rendered by
:func:`mlops.azure.names.render`, so a laptop submit lands where ``dev-model-training.yml``
would. The subscription is not in the config (the service connection carries it in
Azure DevOps); here it comes from ``--subscription``, ``AML_SUBSCRIPTION_ID`` /
``AZURE_SUBSCRIPTION_ID``, or the Azure CLI's default account, which is what
connect-to-workspace.yml reads too (``az account show --query id``).
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from mlops.aml_client import WorkspaceRef
from mlops.azure.names import read_variables, render
from mlops.errors import MlopsError
from mlops.settings import REPO_ROOT

log = logging.getLogger(__name__)

SUBSCRIPTION_ENV = ("AML_SUBSCRIPTION_ID", "AZURE_SUBSCRIPTION_ID")


@dataclass(frozen=True)
class ComputePlan:
    """The training cluster of the environment, as create-compute.yml would create it."""

    name: str
    size: str
    min_instances: int
    max_instances: int
    idle_seconds: int
    identity: str  # user-assigned identity name in the workspace resource group; '' = system


@dataclass(frozen=True)
class Target:
    env: str
    ref: WorkspaceRef
    experiment: str
    compute: ComputePlan


def cli_default_subscription() -> str | None:
    """The Azure CLI's default subscription id, or None without ``az`` or a login."""
    az = shutil.which("az")
    if az is None:
        return None
    try:
        done = subprocess.run(
            [az, "account", "show", "--query", "id", "--output", "tsv"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.info("az account show failed: %s", exc)
        return None
    value = done.stdout.strip()
    return value if done.returncode == 0 and value else None


def _int(config: Mapping[str, str], key: str, source: Path, default: int) -> int:
    raw = config.get(key, "")
    if raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise MlopsError(f"{source}: {key} must be an integer, got {raw!r}") from None


def resolve_target(
    env: str,
    *,
    subscription: str | None = None,
    resource_group: str | None = None,
    workspace: str | None = None,
    environ: Mapping[str, str] | None = None,
    default_subscription: Callable[[], str | None] = cli_default_subscription,
    root: Path = REPO_ROOT,
) -> Target:
    """Workspace and training cluster of ``env``; flags override the config's names."""
    environ = os.environ if environ is None else environ
    names = render(env, root=root).names
    config_file = root / f"config-infra-{env}.yml"
    config = read_variables(config_file)
    sub = subscription or next((environ[k] for k in SUBSCRIPTION_ENV if environ.get(k)), None)
    if not sub:
        sub = default_subscription()
    if not sub:
        raise MlopsError(
            "no Azure subscription: pass --subscription, set AZURE_SUBSCRIPTION_ID, "
            "or `az login` so that `az account show` has a default"
        )
    ref = WorkspaceRef(
        subscription_id=sub,
        resource_group=resource_group or names["resource_group"],
        workspace=workspace or names["aml_workspace"],
    )
    compute = ComputePlan(
        name=names["compute_cluster"],
        size=config.get("compute_vm_size") or "Standard_DS3_v2",
        min_instances=_int(config, "compute_min_instances", config_file, 0),
        max_instances=_int(config, "compute_max_instances", config_file, 2),
        idle_seconds=900,  # create-compute.yml's idleSeconds default
        identity=names.get("compute_identity", ""),
    )
    return Target(env, ref, names.get("training_experiment") or "taxi-fare-train", compute)
