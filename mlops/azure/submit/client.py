"""The part of ``azure.ai.ml.MLClient`` that ``mlops azure submit`` uses: the seam to Azure ML.

A fake (tests) or an emulator (``mlops ado``) only has to offer these operations and
return the SDK's own entity objects. Signatures follow azure-ai-ml 1.35.2:
operations/_workspace_operations.py:get, _environment_operations.py:get/create_or_update,
_data_operations.py:get/create_or_update, _compute_operations.py:get/begin_create_or_update,
_job_operations.py:create_or_update/get/list/download, _model_operations.py:get.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Protocol

from mlops import aml_client


class WorkspaceOps(Protocol):
    def get(self, name: str | None = None, **kwargs: Any) -> Any: ...


class AssetOps(Protocol):
    def get(self, name: str, version: str | None = None, label: str | None = None) -> Any: ...

    def create_or_update(self, entity: Any) -> Any: ...


class ComputeOps(Protocol):
    def get(self, name: str) -> Any: ...

    def begin_create_or_update(self, compute: Any) -> Any: ...  # an LROPoller: .result()


class JobOps(Protocol):
    def create_or_update(self, job: Any, **kwargs: Any) -> Any: ...

    def get(self, name: str) -> Any: ...

    def list(self, parent_job_name: str | None = None, **kwargs: Any) -> Iterable[Any]: ...

    def download(
        self, name: str, *, download_path: Any, output_name: str | None = None
    ) -> None: ...


class ModelOps(Protocol):
    def get(self, name: str, version: str | None = None, label: str | None = None) -> Any: ...


class AzureMLClient(Protocol):
    workspaces: WorkspaceOps
    environments: AssetOps
    data: AssetOps
    compute: ComputeOps
    jobs: JobOps
    models: ModelOps


def default_credential() -> Any:
    """``DefaultAzureCredential``: environment, workload identity, managed identity (client id
    from AZURE_CLIENT_ID), then the Azure CLI / PowerShell / azd logins; the interactive
    browser is excluded by default (azure-identity 1.27
    azure/identity/_credentials/default.py:DefaultAzureCredential.__init__). Building it does
    no I/O; the first token request does, and raises ClientAuthenticationError when nothing
    works. It refreshes its tokens itself, so a long wait needs no client refresh."""
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential()


def connect(ref: aml_client.WorkspaceRef, make_credential: Callable[[], Any] = default_credential):
    """An Azure ML client for ``ref`` through the shared factory (the seam)."""
    return aml_client.ml_client(ref, make_credential())
