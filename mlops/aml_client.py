"""The Azure ML client factory every area's Azure path uses (a floor: it imports only errors).

Build an Azure ML client for the workspace the pipeline step is connected to.

Inside an AzureCLI@2 task bound to a workload-identity service connection, the task
exports the connection's ids (``AZURESUBSCRIPTION_*``); with ``SYSTEM_ACCESSTOKEN``
mapped into the step, ``AzurePipelinesCredential`` asks Azure DevOps for a fresh
OIDC token whenever the access token expires. That is what lets a wait of several
hours outlive the 10-minute federated token and the 1-hour access token that an
``az login`` session is stuck with. Elsewhere (a laptop) the Azure CLI login is used.

Inside ``mlops ado run`` (``MLOPS_AZURE_EMULATOR`` set) the factory hands out the emulated
Azure instead. The emulator lives in the ``ado`` area above this floor, so the ``mlops``
command's composition root (``mlops/cli.py``, at import) plugs it in through
:func:`use_emulator`; the floor never imports it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from mlops.errors import MlopsError

log = logging.getLogger(__name__)

EMULATOR_ENV = "MLOPS_AZURE_EMULATOR"

#: The emulated client factory ``(workspace=, registry=, resource_group=) -> MLClient-like``,
#: set by the ado area (``mlops.ado.commands.register``); one slot, so no module global.
_EMULATOR: dict[str, Callable[..., Any]] = {}


def use_emulator(factory: Callable[..., Any]) -> None:
    """Route clients to ``factory`` whenever ``MLOPS_AZURE_EMULATOR`` is set."""
    _EMULATOR["factory"] = factory


def _emulated() -> Callable[..., Any] | None:
    if not os.environ.get(EMULATOR_ENV):
        return None
    if "factory" not in _EMULATOR:
        raise MlopsError(
            f"{EMULATOR_ENV} is set but no emulated Azure is wired in: run the helper as "
            "`python -m mlops ...` (the ado area installs it)"
        )
    return _EMULATOR["factory"]


PIPELINE_ENV = (
    "AZURESUBSCRIPTION_TENANT_ID",
    "AZURESUBSCRIPTION_CLIENT_ID",
    "AZURESUBSCRIPTION_SERVICE_CONNECTION_ID",
    "SYSTEM_ACCESSTOKEN",
    "SYSTEM_OIDCREQUESTURI",
)


@dataclass(frozen=True)
class WorkspaceRef:
    """Which workspace: the three ids the SDK needs."""

    subscription_id: str
    resource_group: str
    workspace: str

    @classmethod
    def resolve(
        cls, subscription_id: str | None, resource_group: str | None, workspace: str | None
    ) -> WorkspaceRef:
        missing = [
            flag
            for flag, value in (
                ("--subscription-id (or AML_SUBSCRIPTION_ID)", subscription_id),
                ("--resource-group (or AML_RESOURCE_GROUP)", resource_group),
                ("--workspace (or AML_WORKSPACE)", workspace),
            )
            if not value
        ]
        if missing:
            raise MlopsError(
                "no workspace given: set "
                + ", ".join(missing)
                + " (the connect-to-workspace template exports them)"
            )
        return cls(str(subscription_id), str(resource_group), str(workspace))


def uses_pipeline_identity(env: Mapping[str, str]) -> bool:
    """True when every variable AzurePipelinesCredential needs is present."""
    return all(env.get(name) for name in PIPELINE_ENV)


def make_credential(env: Mapping[str, str] | None = None) -> Any:
    """A fresh credential: the pipeline's federated identity if available, else the CLI login."""
    env = os.environ if env is None else env
    if uses_pipeline_identity(env):
        from azure.identity import AzurePipelinesCredential

        return AzurePipelinesCredential(
            tenant_id=env["AZURESUBSCRIPTION_TENANT_ID"],
            client_id=env["AZURESUBSCRIPTION_CLIENT_ID"],
            service_connection_id=env["AZURESUBSCRIPTION_SERVICE_CONNECTION_ID"],
            system_access_token=env["SYSTEM_ACCESSTOKEN"],
        )
    log.info(
        "AZURESUBSCRIPTION_* or SYSTEM_ACCESSTOKEN not set: using the Azure CLI login, whose "
        "token cannot be refreshed in a federated pipeline after about an hour"
    )
    from azure.identity import AzureCliCredential

    return AzureCliCredential()


def ml_client(ref: WorkspaceRef, credential: Any | None = None) -> Any:
    """An ``MLClient`` for the workspace (imports the SDK only when called)."""
    emulated = _emulated()
    if emulated is not None:  # inside `mlops ado run`: the emulated Azure
        return emulated(workspace=ref.workspace, resource_group=ref.resource_group)
    from azure.ai.ml import MLClient

    return MLClient(
        credential=credential or make_credential(),
        subscription_id=ref.subscription_id,
        resource_group_name=ref.resource_group,
        workspace_name=ref.workspace,
    )


def registry_ml_client(registry_name: str, credential: Any | None = None) -> Any:
    """An ``MLClient`` bound to an Azure ML registry, through the same seam as ``ml_client``."""
    emulated = _emulated()
    if emulated is not None:
        return emulated(registry=registry_name)
    from azure.ai.ml import MLClient

    return MLClient(credential=credential or make_credential(), registry_name=registry_name)
