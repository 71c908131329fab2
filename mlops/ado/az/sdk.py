"""An ``MLClient`` stand-in over the emulated Azure, for the ``python -m mlops azure ...`` helpers.

:func:`mlops.aml_client.ml_client` returns :func:`client` when ``MLOPS_AZURE_EMULATOR``
is set (``mlops ado run`` sets it in every step), so the helpers run unchanged against the
same state the ``az`` emulator uses. Only the operations and signatures the helpers call are
here, each shaped as in azure-ai-ml 1.35.2 (azure/ai/ml/operations/<name>_operations.py);
entities are the SDK's own classes, and a missing resource raises
``azure.core.exceptions.ResourceNotFoundError`` as the service's 404 does.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from mlops.ado.az import models as model_store
from mlops.ado.az import ops
from mlops.ado.az.store import Store


class _Done:
    """The LROPoller of a finished operation."""

    def __init__(self, value: Any) -> None:
        self._value = value

    def result(self, timeout: float | None = None) -> Any:
        return self._value

    def done(self) -> bool:
        return True

    def wait(self, timeout: float | None = None) -> None:
        return None


def _translate(function: Callable[..., Any]) -> Callable[..., Any]:
    """Emulator errors as the SDK raises them (404 -> ResourceNotFoundError)."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

        try:
            return function(*args, **kwargs)
        except ops.NotFound as exc:
            raise ResourceNotFoundError(str(exc)) from None
        except ops.AzError as exc:
            raise HttpResponseError(str(exc)) from None

    return wrapper


class _Ops:
    def __init__(self, client: EmulatedMLClient) -> None:
        self.c = client

    @property
    def store(self) -> Store:
        return self.c.store


class _Jobs(_Ops):
    @staticmethod
    def _entity(job: dict[str, Any]) -> Any:
        return SimpleNamespace(
            name=job["name"], status=job["status"], display_name=job.get("display_name"),
            experiment_name=job.get("experiment_name"), tags=job.get("tags") or {},
            type=job.get("type"), services={}, studio_url=None, outputs=job.get("outputs") or {},
        )  # fmt: skip

    @_translate
    def get(self, name: str) -> Any:
        with self.store.locked() as data:
            return self._entity(ops.job_show(self.c.ws(data), name))

    @_translate
    def list(self, *, parent_job_name: str | None = None, **kwargs: Any) -> list[Any]:
        with self.store.locked() as data:
            ws = self.c.ws(data)
            if parent_job_name is None:
                return [self._entity(j) for j in ws["jobs"].values() if not j.get("parent")]
            parent = ops.job_show(ws, parent_job_name)
            return [self._entity(ws["jobs"][child]) for child in parent.get("children") or []]

    @_translate
    def download(
        self,
        name: str,
        download_path: str | Path = ".",
        output_name: str | None = None,
        all: bool = False,
    ) -> None:
        with self.store.locked() as data:
            ops.job_download(
                self.c.ws(data), name, None if all else output_name, Path(download_path)
            )

    @_translate
    def begin_cancel(self, name: str, **kwargs: Any) -> _Done:
        with self.store.locked() as data:
            job = ops.job_show(self.c.ws(data), name)
            if job["status"] in ("Running", "Queued", "NotStarted"):
                job["status"] = "Canceled"
        return _Done(None)

    @_translate
    def create_or_update(
        self,
        job: Any,
        *,
        description: str | None = None,
        compute: str | None = None,
        tags: dict[str, str] | None = None,
        experiment_name: str | None = None,
        **kwargs: Any,
    ) -> Any:
        # The entity as built (overrides, name, tags set in code all count) with the keyword
        # arguments applied as JobOperations.create_or_update applies them (azure-ai-ml
        # 1.35.2 operations/_job_operations.py); its file gives the components the twin runs
        # (azure-ai-ml keeps it as _source_path).
        source = getattr(job, "_source_path", None)
        if not source:
            raise ops.BadRequest("only pipeline jobs loaded from a YAML file are emulated")
        for field, value in (("description", description), ("compute", compute),
                             ("tags", tags), ("experiment_name", experiment_name)):  # fmt: skip
            if value is not None:
                setattr(job, field, value)
        record = ops.submit_pipeline_job(self.store, str(self.c.workspace), job, Path(source))
        return self._entity(record)


class _Models(_Ops):
    @_translate
    def get(self, name: str, version: str | None = None, label: str | None = None) -> Any:
        from azure.ai.ml.entities import Model

        with self.store.locked() as data:
            ws = None if self.c.registry else self.c.ws(data)
            shown = ops.model_show(data, ws, self.c.registry, name, version or label)
            flavors, folder = ops.model_files(
                self.store, data, ws, self.c.registry, name, shown["version"]
            )
        return Model(
            name=name, version=shown["version"], tags=shown["tags"], type="mlflow_model",
            path=folder, flavors=flavors,
        )  # fmt: skip

    @_translate
    def create_or_update(self, model: Any) -> Any:
        # Only tags change on an existing version (azure-ai-ml ModelOperations.create_or_update
        # of the same name and version updates its mutable fields).
        with self.store.locked() as data:
            ws = None if self.c.registry else self.c.ws(data)
            ops.model_set_tags(
                data, ws, self.c.registry, model.name, str(model.version), dict(model.tags or {})
            )
        return self.get(model.name, str(model.version))

    @_translate
    def list(self, name: str | None = None, **kwargs: Any) -> list[Any]:
        from azure.ai.ml.entities import Model

        with self.store.locked() as data:
            if self.c.registry:
                versions = (
                    {name: ops.registry(data, self.c.registry)["models"].get(name) or []}
                    if name
                    else {}
                )
            else:
                versions = model_store.workspace_models(self.c.ws(data))
        return [Model(name=n, version=str(v["version"]), tags=v.get("tags") or {}, path=None)
                for n, vs in versions.items() if not name or n == name for v in vs]  # fmt: skip

    @_translate
    def share(
        self,
        name: str,
        version: str,
        *,
        share_with_name: str,
        share_with_version: str,
        registry_name: str,
        **kwargs: Any,
    ) -> Any:
        with self.store.locked() as data:
            ops.model_share(
                self.store,
                data,
                self.c.ws(data),
                name,
                version,
                registry_name,
                share_with_name,
                share_with_version,
            )
        return None


class _Assets(_Ops):
    def __init__(self, client: EmulatedMLClient, kind: str) -> None:
        super().__init__(client)
        self.kind = kind

    def _entity(self, entry: dict[str, Any]) -> Any:
        from azure.ai.ml.entities import Data, Environment

        if self.kind == "environment":
            return Environment(
                name=entry["name"],
                version=entry["version"],
                tags=entry.get("tags") or {},
                image="emulated",
            )
        return Data(
            name=entry["name"],
            version=entry["version"],
            tags=entry.get("tags") or {},
            path=entry.get("path") or ".",
        )

    def _holder(self, data: dict[str, Any]) -> dict[str, Any]:
        """The workspace, or the registry (environments shared by stage and prod live there)."""
        if self.c.registry:
            holder = ops.registry(data, self.c.registry)
            holder.setdefault("environments", {})
            holder.setdefault("data", {})
            holder.setdefault("env", f"registry {self.c.registry}")
            return holder
        return self.c.ws(data)

    @_translate
    def get(self, name: str, version: str | None = None, label: str | None = None) -> Any:
        with self.store.locked() as data:
            return self._entity(
                ops.asset_show(self._holder(data), self.kind, name, version or label)
            )

    @_translate
    def create_or_update(self, entity: Any) -> Any:
        with self.store.locked() as data:
            return self._entity(ops.asset_create(self._holder(data), self.kind, entity))


class _Compute(_Ops):
    @_translate
    def get(self, name: str) -> Any:
        with self.store.locked() as data:
            found = ops.compute_show(self.c.ws(data), name)
        return SimpleNamespace(**found)

    @_translate
    def begin_create_or_update(self, compute: Any) -> _Done:
        settings_ = {
            k: getattr(compute, k, None)
            for k in (
                "size",
                "min_instances",
                "max_instances",
                "idle_time_before_scale_down",
                "type",
            )
        }
        with self.store.locked() as data:
            ws = self.c.ws(data)
            found = ops.compute_put(
                ws, compute.name, settings_, create=compute.name not in ws["computes"]
            )
        return _Done(SimpleNamespace(**found))


class _OnlineEndpoints(_Ops):
    @_translate
    def get(self, name: str, **kwargs: Any) -> Any:
        from azure.ai.ml.entities import ManagedOnlineEndpoint

        with self.store.locked() as data:
            ws = self.c.ws(data)
            if name not in ws["online_endpoints"]:
                raise ops.NotFound("Online endpoint", name, f"workspace {self.c.workspace}")
            uri = ops.serve_endpoint(self.store, data, self.c.workspace, name)
            view = ops.online_endpoint_view(
                self.c.workspace, name, ws["online_endpoints"][name], uri
            )
        return ManagedOnlineEndpoint(
            name=name, auth_mode=view["auth_mode"], traffic=view["traffic"], tags=view["tags"],
            description=view["description"], scoring_uri=uri, provisioning_state="Succeeded",
        )  # fmt: skip

    @_translate
    def list(self, **kwargs: Any) -> list[Any]:
        with self.store.locked() as data:
            names = list(self.c.ws(data)["online_endpoints"])
        return [self.get(n) for n in names]

    @_translate
    def begin_create_or_update(self, endpoint: Any, **kwargs: Any) -> _Done:
        with self.store.locked() as data:
            ws = self.c.ws(data)
            ops.online_endpoint_put(
                data, ws, endpoint, create=endpoint.name not in ws["online_endpoints"]
            )
        return _Done(self.get(endpoint.name))

    @_translate
    def get_keys(self, name: str) -> Any:
        from azure.ai.ml.entities import EndpointAuthKeys

        with self.store.locked() as data:
            keys = ops.endpoint_keys(data, self.c.workspace, name)
        return EndpointAuthKeys(primary_key=keys["primaryKey"], secondary_key=keys["secondaryKey"])


class _OnlineDeployments(_Ops):
    @staticmethod
    def _entity(name: str, endpoint: str, dep: dict[str, Any]) -> Any:
        return SimpleNamespace(name=name, endpoint_name=endpoint, model=dep["model"],
                               instance_type=dep.get("instance_type"),
                               instance_count=dep.get("instance_count"),
                               provisioning_state="Succeeded")  # fmt: skip

    @_translate
    def begin_create_or_update(self, deployment: Any, **kwargs: Any) -> _Done:
        with self.store.locked() as data:
            ws = self.c.ws(data)
            endpoint = ws["online_endpoints"].get(deployment.endpoint_name) or {}
            create = deployment.name not in endpoint.get("deployments", {})
            dep = ops.online_deployment_put(self.store, data, self.c.workspace, deployment, create)
            # The service reports a deployment only once it answers: start it now.
            ops.ensure_deployment_server(
                self.store, self.c.workspace, deployment.endpoint_name, dep, deployment.name
            )
        return _Done(self._entity(deployment.name, deployment.endpoint_name, dep))

    @_translate
    def get(self, name: str, endpoint_name: str, **kwargs: Any) -> Any:
        with self.store.locked() as data:
            endpoint = self.c.ws(data)["online_endpoints"].get(endpoint_name)
            if endpoint is None:
                raise ops.NotFound(
                    "Online endpoint", endpoint_name, f"workspace {self.c.workspace}"
                )
            dep = endpoint["deployments"].get(name)
            if dep is None:
                raise ops.NotFound("Online deployment", name, f"endpoint {endpoint_name}")
        return self._entity(name, endpoint_name, dep)

    @_translate
    def list(self, endpoint_name: str, **kwargs: Any) -> list[Any]:
        with self.store.locked() as data:
            endpoint = self.c.ws(data)["online_endpoints"].get(endpoint_name)
            if endpoint is None:
                raise ops.NotFound(
                    "Online endpoint", endpoint_name, f"workspace {self.c.workspace}"
                )
            return [self._entity(n, endpoint_name, d) for n, d in endpoint["deployments"].items()]


class _BatchEndpoints(_Ops):
    @_translate
    def get(self, name: str, **kwargs: Any) -> Any:
        from azure.ai.ml.entities import BatchEndpoint

        with self.store.locked() as data:
            found = self.c.ws(data)["batch_endpoints"].get(name)
            if found is None:
                raise ops.NotFound("Batch endpoint", name, f"workspace {self.c.workspace}")
        entity = BatchEndpoint(
            name=name, description=found.get("description"), auth_mode=found.get("auth_mode")
        )
        entity.defaults = SimpleNamespace(deployment_name=found.get("default_deployment"))
        return entity

    @_translate
    def begin_create_or_update(self, endpoint: Any, **kwargs: Any) -> _Done:
        with self.store.locked() as data:
            ws = self.c.ws(data)
            ops.batch_endpoint_put(ws, endpoint, endpoint.name not in ws["batch_endpoints"], None)
        return _Done(self.get(endpoint.name))


class EmulatedMLClient:
    """The part of ``azure.ai.ml.MLClient`` the helpers use, bound to a workspace or registry."""

    def __init__(self, workspace: str | None = None, registry: str | None = None) -> None:
        self.store = Store.open()
        self.workspace = workspace
        self.registry = registry
        self.workspace_name = workspace
        self.jobs = _Jobs(self)
        self.models = _Models(self)
        self.environments = _Assets(self, "environment")
        self.data = _Assets(self, "data")
        self.compute = _Compute(self)
        self.online_endpoints = _OnlineEndpoints(self)
        self.online_deployments = _OnlineDeployments(self)
        self.batch_endpoints = _BatchEndpoints(self)
        self.workspaces = SimpleNamespace(get=self._workspace_get)

    def ws(self, data: dict[str, Any]) -> dict[str, Any]:
        if self.workspace is None:
            raise ops.AzError("this client is bound to a registry, not a workspace")
        return ops.workspace(data, self.workspace)

    @_translate
    def _workspace_get(self, name: str | None = None, **kwargs: Any) -> Any:
        with self.store.locked() as data:
            ws = ops.workspace(data, name or self.workspace)
        return SimpleNamespace(
            name=name or self.workspace,
            resource_group=ws["resource_group"],
            location=ws["location"],
        )


def active() -> bool:
    """True inside ``mlops ado run`` steps (the runner sets ``MLOPS_AZURE_EMULATOR``)."""
    import os

    return bool(os.environ.get("MLOPS_AZURE_EMULATOR"))


def client(
    workspace: str | None = None, registry: str | None = None, resource_group: str | None = None
) -> EmulatedMLClient:
    """The emulated client for a workspace (checked to exist in ``resource_group``) or registry."""
    made = EmulatedMLClient(workspace, registry)
    if workspace is not None:
        with made.store.locked() as data:
            try:
                ops.workspace(data, workspace, resource_group)
            except ops.NotFound as exc:
                from azure.core.exceptions import ResourceNotFoundError

                raise ResourceNotFoundError(str(exc)) from None
    return made
