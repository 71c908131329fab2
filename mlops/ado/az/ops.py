"""The operations of the emulated Azure ML, shared by the ``az`` emulator and the SDK seam.

Behaviour is taken from the ml CLI extension (Azure/azure-cli-extensions,
src/machinelearningservices/azext_mlv2/manual/custom/) and azure-ai-ml 1.35.2:

- ``--file`` specs are loaded with azure-ai-ml's ``load_*`` functions with ``--set`` as
  ``params_override`` (custom/online_endpoint.py:ml_online_endpoint_create,
  custom/online_deployment.py, custom/batch_*.py, custom/job.py:ml_job_create).
- ``online-endpoint update --file`` builds the endpoint from the file
  (online_endpoint.py:_ml_online_endpoint_show, used as the generic-update getter) and
  PUTs it: the endpoint's traffic becomes the file's (none in ours, so empty).
- ``job download`` writes a named output under ``<download_path>/named-outputs/<name>/``
  (azure-ai-ml operations/_job_operations.py:JobOperations.download).
- ``model share`` copies name and version into the registry (custom/model.py:ml_model_share
  -> ModelOperations.share).
- A missing resource is ``(ResourceNotFound)`` and, in ``show``, exit code 3
  (Azure/azure-cli README, "Exit codes": 3 = missing ARM resource).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from mlops import settings
from mlops.ado.az import models, servers
from mlops.ado.az.store import Store, now
from mlops.errors import MlopsError


class AzError(MlopsError):
    """An error the real service or CLI would report; ``code`` is the CLI's exit code."""

    code = 1


class NotFound(AzError):
    code = 3

    def __init__(self, kind: str, name: str, where: str) -> None:
        self.kind = kind
        super().__init__(f"(ResourceNotFound) {kind} {name} not found in {where}")


class BadRequest(AzError):
    def __init__(self, message: str) -> None:
        super().__init__(f"(UserError) {message}")


def _overrides(sets: list[str] | None) -> list[dict[str, Any]]:
    """``--set a.b=c`` as azure-ai-ml params_override entries (dotted keys are paths)."""
    result = []
    for item in sets or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise BadRequest(f"--set {item!r}: expected KEY=VALUE")
        result.append({key: value})
    return result


def workspace(
    data: dict[str, Any], name: str | None, resource_group: str | None = None
) -> dict[str, Any]:
    if not name:
        raise AzError("the following arguments are required: --workspace-name/-w")
    ws = data["workspaces"].get(name)
    if ws is None or (resource_group and ws["resource_group"] != resource_group):
        raise NotFound("Workspace", name, f"resource group {resource_group}")
    return ws


def registry(data: dict[str, Any], name: str) -> dict[str, Any]:
    found = data["registries"].get(name)
    if found is None:
        raise NotFound("Registry", name, "this subscription")
    return found


# Models ---------------------------------------------------------------------------------


def parse_model_ref(ref: str) -> tuple[str | None, str, str | None]:
    """(registry or None, name, version or None) of a model reference."""
    if ref.startswith("azureml://registries/"):
        parts = ref[len("azureml://registries/") :].split("/")
        if len(parts) == 5 and parts[1] == "models" and parts[3] == "versions":
            return parts[0], parts[2], parts[4]
        if len(parts) == 3 and parts[1] == "models":
            return parts[0], parts[2], None
        raise BadRequest(
            f"model reference {ref!r} is not azureml://registries/<r>/models/<n>/versions/<v>"
        )
    text = ref[len("azureml:") :] if ref.startswith("azureml:") else ref
    if "@" in text:
        name, _, label = text.partition("@")
        return None, name, None if label == "latest" else label
    name, _, version = text.partition(":")
    return None, name, version or None


def model_dir(store: Store, data: dict[str, Any], ws: dict[str, Any], ref: str) -> Path:
    """The local folder of a model reference, as a deployment would mount it."""
    reg, name, version = parse_model_ref(ref)
    if reg is not None:
        entry = models.registry_model(data, reg, name, version)
        if entry is None:
            raise NotFound("Model", f"{name}:{version}", f"registry {reg}")
        return models.registry_dir(store.home, reg, name, str(entry["version"]))
    entry = models.workspace_model(ws, name, version)
    if entry is None:
        raise NotFound("Model", f"{name}:{version}", f"workspace of {ws['env']}")
    target = store.home / "cache" / ws["env"] / name / str(entry["version"])
    if not (target / "MLmodel").is_file():
        models.download_workspace_model(ws["env"], name, str(entry["version"]), target)
    return target


def model_show(
    data: dict[str, Any], ws: dict[str, Any] | None, reg: str | None, name: str, version: str | None
) -> dict[str, Any]:
    if reg:
        entry = models.registry_model(data, reg, name, version)
        where = f"registry {reg}"
        ident = (
            f"azureml://registries/{reg}/models/{name}/versions/{entry['version']}" if entry else ""
        )
    else:
        assert ws is not None
        entry = models.workspace_model(ws, name, version)
        where = f"workspace of {ws['env']}"
        ident = f"azureml:{name}:{entry['version']}" if entry else ""
    if entry is None:
        raise NotFound("Model", f"{name}:{version or 'latest'}", where)
    return {
        "name": name,
        "version": str(entry["version"]),
        "tags": dict(entry.get("tags") or {}),
        "id": ident,
        "type": "mlflow_model",
    }


def model_files(
    store: Store,
    data: dict[str, Any],
    ws: dict[str, Any] | None,
    reg: str | None,
    name: str,
    version: str,
) -> tuple[dict[str, Any], str]:
    """The version's MLmodel flavors and artifact folder (what Azure ML parsed at registration)."""
    import yaml

    ref = (
        f"azureml://registries/{reg}/models/{name}/versions/{version}"
        if reg
        else f"azureml:{name}:{version}"
    )
    folder = model_dir(store, data, ws or {}, ref)
    try:
        mlmodel = yaml.safe_load((folder / "MLmodel").read_text(encoding="utf-8")) or {}
    except OSError:
        return {}, str(folder)
    return dict(mlmodel.get("flavors") or {}), str(folder)


def model_set_tags(
    data: dict[str, Any],
    ws: dict[str, Any] | None,
    reg: str | None,
    name: str,
    version: str,
    tags: dict[str, str],
) -> None:
    if reg:
        entry = models.registry_model(data, reg, name, version)
        if entry is None:
            raise NotFound("Model", f"{name}:{version}", f"registry {reg}")
        entry.setdefault("tags", {}).update({str(k): str(v) for k, v in tags.items()})
        return
    assert ws is not None
    if models.workspace_model(ws, name, version) is None:
        raise NotFound("Model", f"{name}:{version}", f"workspace of {ws['env']}")
    models.set_workspace_tags(ws, name, version, {str(k): str(v) for k, v in tags.items()})


def model_share(
    store: Store,
    data: dict[str, Any],
    ws: dict[str, Any],
    name: str,
    version: str,
    reg: str,
    share_name: str,
    share_version: str,
) -> dict[str, Any]:
    entry = models.workspace_model(ws, name, version)
    if entry is None:
        raise NotFound("Model", f"{name}:{version}", f"workspace of {ws['env']}")
    target_registry = registry(data, reg)
    versions = target_registry["models"].setdefault(share_name, [])
    if any(str(v["version"]) == str(share_version) for v in versions):
        raise BadRequest(f"model {share_name}:{share_version} already exists in registry {reg}")
    folder = models.registry_dir(store.home, reg, share_name, share_version)
    models.download_workspace_model(ws["env"], name, str(entry["version"]), folder)
    versions.append(
        {
            "version": int(share_version) if str(share_version).isdigit() else share_version,
            "tags": dict(entry.get("tags") or {}),
            "source": f"azureml:{name}:{entry['version']}",
            "shared_at": now(),
        }
    )
    versions.sort(key=lambda v: (str(type(v["version"])), v["version"]))
    return model_show(data, None, reg, share_name, share_version)


# Versioned assets (environment, data) ---------------------------------------------------


def asset_show(ws: dict[str, Any], kind: str, name: str, version: str | None) -> dict[str, Any]:
    versions = ws["environments" if kind == "environment" else "data"].get(name) or []
    if version in (None, "", "latest"):
        entry = versions[-1] if versions else None
    else:
        entry = next((v for v in versions if str(v["version"]) == str(version)), None)
    if entry is None:
        raise NotFound(
            "Environment" if kind == "environment" else "Data",
            f"{name}:{version or 'latest'}",
            f"workspace of {ws['env']}",
        )
    return dict(entry)


def asset_create(ws: dict[str, Any], kind: str, entity: Any) -> dict[str, Any]:
    bucket = ws["environments" if kind == "environment" else "data"].setdefault(entity.name, [])
    version = entity.version
    if version is None:  # auto-increment, as the service does for a spec without a version
        numeric = [int(v["version"]) for v in bucket if str(v["version"]).isdigit()]
        version = str(max(numeric, default=0) + 1)
    if any(str(v["version"]) == str(version) for v in bucket):
        raise BadRequest(f"{kind} {entity.name}:{version} already exists; versions are immutable")
    entry = {"name": entity.name, "version": str(version), "tags": dict(entity.tags or {})}
    if kind == "data":
        entry["path"] = str(getattr(entity, "path", "") or "")
    bucket.append(entry)
    return dict(entry)


# Compute --------------------------------------------------------------------------------


def compute_show(ws: dict[str, Any], name: str) -> dict[str, Any]:
    found = ws["computes"].get(name)
    if found is None:
        raise NotFound("Compute", name, f"workspace of {ws['env']}")
    return dict(found)


def compute_put(
    ws: dict[str, Any], name: str, settings_: dict[str, Any], create: bool
) -> dict[str, Any]:
    if create and name in ws["computes"]:
        raise BadRequest(f"compute {name} already exists")
    if not create and name not in ws["computes"]:
        raise NotFound("Compute", name, f"workspace of {ws['env']}")
    entry = ws["computes"].setdefault(
        name, {"name": name, "type": "amlcompute", "provisioning_state": "Succeeded"}
    )
    entry.update({k: v for k, v in settings_.items() if v is not None})
    return dict(entry)


# Online endpoints -----------------------------------------------------------------------


def _key(ws_name: str, endpoint: str, which: str) -> str:
    return hashlib.sha256(f"{ws_name}/{endpoint}/{which}".encode()).hexdigest()[:32]


def endpoint_keys(data: dict[str, Any], ws_name: str, endpoint: str) -> dict[str, str]:
    ws = workspace(data, ws_name)
    if endpoint not in ws["online_endpoints"]:
        raise NotFound("Online endpoint", endpoint, f"workspace {ws_name}")
    return {
        "primaryKey": _key(ws_name, endpoint, "primary"),
        "secondaryKey": _key(ws_name, endpoint, "secondary"),
    }


def check_traffic(endpoint: dict[str, Any], traffic: dict[str, int], name: str) -> None:
    total = sum(traffic.values())
    if traffic and total not in (0, 100):
        raise BadRequest(f"traffic of {name} must add up to 100 (or 0), got {total}: {traffic}")
    missing = [d for d, p in traffic.items() if d not in (endpoint.get("deployments") or {})]
    if missing:
        raise BadRequest(
            f"traffic names deployments that do not exist in {name}: {', '.join(missing)}"
        )
    if any(p < 0 or p > 100 for p in traffic.values()):
        raise BadRequest(f"traffic of {name} must be between 0 and 100 per deployment: {traffic}")


def set_traffic(endpoint: dict[str, Any], traffic: dict[str, int], name: str) -> None:
    traffic = {str(k): int(v) for k, v in traffic.items()}
    check_traffic(endpoint, traffic, name)
    if traffic != endpoint.get("traffic"):
        endpoint["traffic"] = traffic
        endpoint.setdefault("traffic_history", []).append({"at": now(), "traffic": dict(traffic)})


def online_endpoint_put(
    data: dict[str, Any], ws: dict[str, Any], entity: Any, create: bool
) -> dict[str, Any]:
    name = entity.name
    existing = ws["online_endpoints"].get(name)
    if create and existing is not None:
        raise BadRequest(
            "An endpoint with this name already exists. If you are trying to create a new "
            "endpoint, "
            "use a different name. If you are trying to update an existing endpoint, use "
            "`az ml online-endpoint update` instead."
        )
    if not create and existing is None:
        raise NotFound("Online endpoint", name, f"workspace of {ws['env']}")
    endpoint = existing or {
        "deployments": {},
        "traffic": {},
        "traffic_history": [],
        "created_at": now(),
    }
    endpoint["auth_mode"] = str(getattr(entity, "auth_mode", None) or "key")
    endpoint["description"] = getattr(entity, "description", None)
    endpoint["tags"] = dict(getattr(entity, "tags", None) or {})
    ws["online_endpoints"][name] = endpoint
    set_traffic(endpoint, dict(getattr(entity, "traffic", None) or {}), name)
    return endpoint


def online_endpoint_view(
    ws_name: str, name: str, endpoint: dict[str, Any], scoring_uri: str | None
) -> dict[str, Any]:
    return {
        "name": name,
        "auth_mode": endpoint.get("auth_mode", "key"),
        "description": endpoint.get("description"),
        "tags": endpoint.get("tags") or {},
        "traffic": dict(endpoint.get("traffic") or {}),
        "scoring_uri": scoring_uri,
        "provisioning_state": "Succeeded",
        "id": f"/workspaces/{ws_name}/onlineEndpoints/{name}",
    }


def online_deployment_put(
    store: Store, data: dict[str, Any], ws_name: str, entity: Any, create: bool
) -> dict[str, Any]:
    ws = workspace(data, ws_name)
    endpoint = ws["online_endpoints"].get(entity.endpoint_name)
    if endpoint is None:
        raise NotFound("Online endpoint", entity.endpoint_name, f"workspace {ws_name}")
    deployments = endpoint.setdefault("deployments", {})
    if create and entity.name in deployments:
        raise BadRequest(f"deployment {entity.name} already exists in {entity.endpoint_name}")
    model = entity.model if isinstance(entity.model, str) else getattr(entity.model, "id", None)
    if not model:
        raise BadRequest("the deployment names no model")
    folder = model_dir(store, data, ws, model)  # refuses a model that does not exist
    deployments[entity.name] = {
        "model": model,
        "instance_type": entity.instance_type,
        "instance_count": entity.instance_count,
        "updated_at": now(),
        "model_dir": str(folder),
        **deployment_code(store, data, ws, entity),
    }
    return deployments[entity.name]


def deployment_code(
    store: Store, data: dict[str, Any], ws: dict[str, Any], entity: Any
) -> dict[str, Any]:
    """The scoring code a deployment runs (a snapshot, as Azure ML uploads ``code`` when the
    deployment is created), its script, and its environment reference.

    A referenced environment must exist (the service refuses the deployment otherwise); an
    inline one (image + conda file) is built by the service, so it is taken as given here.
    """
    environment = entity.environment
    if isinstance(environment, str):
        env_ref = environment
        reg, name, version = parse_model_ref(environment.replace("/environments/", "/models/"))
        holder = data["registries"].get(reg) if reg else ws
        versions = ((holder or {}).get("environments") or {}).get(name) or []
        if not any(version in (None, str(v["version"])) for v in versions):
            where = f"registry {reg}" if reg else f"workspace of {ws['env']}"
            raise NotFound("Environment", f"{name}:{version or 'latest'}", where)
    else:
        env_ref = "inline"
    config = entity.code_configuration
    code_dir, script = None, None
    if config is not None and config.code:
        code = Path(str(config.code))
        base = Path(str(getattr(entity, "base_path", None) or "."))
        code_dir = str(code if code.is_absolute() else (base / code).resolve())
        script = str(config.scoring_script)
        if not (Path(code_dir) / script).is_file():
            raise BadRequest(f"scoring script {script} not found in code {code_dir}")
        stamp = f"{entity.name}-{int(time.time() * 1000)}"
        snapshot = store.home / "code" / str(entity.endpoint_name) / stamp
        shutil.copytree(code_dir, snapshot, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        code_dir = str(snapshot)
    return {"environment": env_ref, "code": code_dir, "scoring_script": script}


# Serving --------------------------------------------------------------------------------


def run_dir(store: Store) -> Path:
    given = os.environ.get("MLOPS_ADO_RUN_DIR")
    path = Path(given) if given else store.home / "servers"
    path.mkdir(parents=True, exist_ok=True)
    return path


def prefork(command: list[str]) -> list[str]:
    """``command`` (``python -m ...``) through the run's pre-forked Python when there is one
    (mlops/ado/zygote.py): the inference server's scoring code then finds MLflow, pandas and
    scikit-learn imported. Stopping the process group stops the command: the client forwards
    the signal to it and exits when it has."""
    client = os.environ.get("MLOPS_ADO_ZYGOTE_CLIENT")
    if client and os.environ.get("MLOPS_ADO_ZYGOTE") and command[:1] == [sys.executable]:
        return [command[0], client, *command[1:]]
    return command


def _DeploymentServer(deployment: dict[str, Any], log_file: Path) -> Any:  # noqa: N802
    """A LocalServer running the deployment's own code (its pinned ``score.py``)."""
    from mlops.endpoints.local_server import LocalServer

    code = deployment.get("code")
    script = Path(code) / deployment["scoring_script"] if code else None

    class Server(LocalServer):
        def command(self) -> list[str]:
            command = super().command()
            if script is not None:
                command[command.index("--entry_script") + 1] = str(script)
            return prefork(command)

    env = {"AML_APP_ROOT": str(code)} if code else None
    return Server(Path(deployment["model_dir"]), log_file=log_file, env=env)


def ensure_deployment_server(
    store: Store, ws_name: str, endpoint: str, deployment: dict[str, Any], name: str
) -> dict[str, Any]:
    """A real inference server for the deployment's model (started once per run)."""

    where = run_dir(store)
    key = f"deployment:{ws_name}/{endpoint}/{name}"
    entry = servers.lookup(where, key)
    same = ("model_dir", "code")
    if entry is not None and all(entry.get(k) == deployment.get(k) for k in same):
        return entry
    if entry is not None:
        servers.forget(where, key)
    log_file = where / "servers" / f"{endpoint}.{name}.log"
    server = _DeploymentServer(deployment, log_file)
    server.start()
    assert server._proc is not None  # started above
    entry = {
        "pid": server._proc.pid,
        "port": server.port,
        "url": server.url,
        "model_dir": deployment["model_dir"],
        "code": deployment.get("code"),
    }
    servers.record(where, key, entry)
    return entry


def ensure_router(store: Store, ws_name: str, endpoint: str) -> str:
    """The endpoint's scoring URI: a router on 127.0.0.1 that splits traffic like Azure ML."""
    from mlops.endpoints.local_server import free_port

    where = run_dir(store)
    key = f"router:{ws_name}/{endpoint}"
    entry = servers.lookup(where, key)
    if entry is None:
        port = free_port()
        log_file = where / "servers" / f"{endpoint}.router.log"
        log_file.parent.mkdir(parents=True, exist_ok=True)
        with open(log_file, "ab") as out:
            proc = subprocess.Popen(
                prefork([sys.executable, "-m", "mlops.ado.az.router", "--state", str(store.path),
                 "--servers", str(servers._file(where)), "--workspace", ws_name,
                 "--endpoint", endpoint, "--port", str(port)]),
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        entry = {"pid": proc.pid, "port": port, "url": f"http://127.0.0.1:{port}"}
        servers.record(where, key, entry)
        _wait_http(entry["url"] + "/", proc)
    return f"{entry['url']}/score"


def _wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    import urllib.request

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise AzError(f"the endpoint router exited with code {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1):  # loopback only
                return
        except OSError:
            time.sleep(0.1)
    raise AzError("the endpoint router did not answer within 30 s")


def serve_endpoint(store: Store, data: dict[str, Any], ws_name: str, name: str) -> str:
    """Servers for every deployment of the endpoint plus its router; returns the scoring URI."""
    ws = workspace(data, ws_name)
    endpoint = ws["online_endpoints"].get(name)
    if endpoint is None:
        raise NotFound("Online endpoint", name, f"workspace {ws_name}")
    for dep_name, dep in (endpoint.get("deployments") or {}).items():
        ensure_deployment_server(store, ws_name, name, dep, dep_name)
    return ensure_router(store, ws_name, name)


# Batch endpoints ------------------------------------------------------------------------


def batch_endpoint_put(
    ws: dict[str, Any], entity: Any, create: bool, default: str | None
) -> dict[str, Any]:
    name = entity.name
    existing = ws["batch_endpoints"].get(name)
    if create and existing is not None:
        raise BadRequest(f"batch endpoint {name} already exists; use update")
    if not create and existing is None:
        raise NotFound("Batch endpoint", name, f"workspace of {ws['env']}")
    endpoint = existing or {"deployments": {}, "default_deployment": None, "created_at": now()}
    endpoint["description"] = getattr(entity, "description", None)
    endpoint["auth_mode"] = str(getattr(entity, "auth_mode", None) or "aad_token")
    wanted = default or getattr(getattr(entity, "defaults", None), "deployment_name", None)
    if wanted:
        if wanted not in endpoint["deployments"]:
            raise BadRequest(f"default deployment {wanted} does not exist in batch endpoint {name}")
        endpoint["default_deployment"] = wanted
    ws["batch_endpoints"][name] = endpoint
    return endpoint


def batch_deployment_put(
    store: Store, data: dict[str, Any], ws: dict[str, Any], entity: Any, create: bool
) -> dict[str, Any]:
    endpoint = ws["batch_endpoints"].get(entity.endpoint_name)
    if endpoint is None:
        raise NotFound("Batch endpoint", entity.endpoint_name, f"workspace of {ws['env']}")
    if create and entity.name in endpoint["deployments"]:
        raise BadRequest(f"batch deployment {entity.name} already exists; use update")
    if not create and entity.name not in endpoint["deployments"]:
        raise NotFound("Batch deployment", entity.name, f"batch endpoint {entity.endpoint_name}")
    model = entity.model if isinstance(entity.model, str) else getattr(entity.model, "id", None)
    if not model:
        raise BadRequest("the batch deployment names no model")
    folder = model_dir(store, data, ws, model)
    compute = (
        entity.compute if isinstance(entity.compute, str) else getattr(entity.compute, "name", None)
    )
    name = str(compute or "").removeprefix("azureml:")
    if name and name not in ws["computes"]:
        raise BadRequest(f"compute {name} does not exist in the workspace")
    endpoint["deployments"][entity.name] = {
        "model": model,
        "compute": compute,
        "model_dir": str(folder),
        "updated_at": now(),
        "settings": _batch_settings(entity),
        **deployment_code(store, data, ws, entity),
    }
    return endpoint["deployments"][entity.name]


def _batch_settings(entity: Any) -> dict[str, int]:
    """Mini-batch size, error threshold, retries of the deployment (ModelBatchDeployment
    nests them under ``settings``; the older BatchDeployment has them at the top)."""
    settings_ = getattr(entity, "settings", None) or entity
    retry = getattr(settings_, "retry_settings", None)

    def number(value: Any, default: int) -> int:
        return default if value is None else int(value)

    return {
        "mini_batch_size": number(getattr(settings_, "mini_batch_size", None), 10),
        "error_threshold": number(getattr(settings_, "error_threshold", None), -1),
        "max_retries": number(getattr(retry, "max_retries", None), 3),
    }


def _new_job_name(prefix: str) -> str:
    return f"{prefix}_{int(time.time() * 1000) % 10**10}_{os.getpid() % 1000}"


def _score_batch(source: Path, output: Path, dep: dict[str, Any], settings_: Any) -> Any:
    """Score with the deployment's own script (its pinned code), as the batch driver would."""
    from mlops.endpoints.batch import BATCH_SCRIPT, run_batch

    script = Path(dep["code"]) / dep["scoring_script"] if dep.get("code") else BATCH_SCRIPT
    return run_batch(
        source, output / "predictions.csv", Path(dep["model_dir"]), settings_, script_path=script
    )


def batch_invoke(
    store: Store,
    data: dict[str, Any],
    ws: dict[str, Any],
    endpoint_name: str,
    input_path: str,
    deployment: str | None,
) -> dict[str, Any]:
    """Score the input folder with the default (or given) deployment; a finished job record."""
    from mlops.endpoints.batch import BatchSettings

    endpoint = ws["batch_endpoints"].get(endpoint_name)
    if endpoint is None:
        raise NotFound("Batch endpoint", endpoint_name, f"workspace of {ws['env']}")
    chosen = deployment or endpoint.get("default_deployment")
    if not chosen or chosen not in endpoint["deployments"]:
        raise BadRequest(
            f"batch endpoint {endpoint_name} has no default deployment; "
            "set defaults.deployment_name"
        )
    dep = endpoint["deployments"][chosen]
    name = _new_job_name("batchjob")
    output = store.home / "jobs" / name / "outputs" / "score"
    source = Path(input_path)
    if not source.is_dir():
        raise BadRequest(f"--input {input_path}: not a folder")
    settings_ = BatchSettings(**dep["settings"]) if dep.get("settings") else BatchSettings()
    report = _score_batch(source, output, dep, settings_)
    status = "Failed" if report.aborted else "Completed"
    job = {
        "name": name,
        "type": "batch",
        "status": status,
        "display_name": f"{endpoint_name}/{chosen}",
        "created_at": now(),
        "endpoint": endpoint_name,
        "deployment": chosen,
        "model": dep["model"],
        "outputs": {"score": str(output)},
        "rows": report.rows,
    }
    ws["jobs"][name] = job
    return job


# Jobs -----------------------------------------------------------------------------------


def job_show(ws: dict[str, Any], name: str) -> dict[str, Any]:
    job = ws["jobs"].get(name)
    if job is None:
        raise NotFound("Job", name, f"workspace of {ws['env']}")
    return job


def job_download(
    ws: dict[str, Any], name: str, output_name: str | None, download_path: Path
) -> list[Path]:
    job = job_show(ws, name)
    outputs = job.get("outputs") or {}
    wanted = [output_name] if output_name else list(outputs)
    placed = []
    for item in wanted:
        if item not in outputs:
            raise BadRequest(
                f"job {name} has no output {item!r} (outputs: {', '.join(outputs) or 'none'})"
            )
        target = download_path / "named-outputs" / item
        shutil.copytree(outputs[item], target, dirs_exist_ok=True)
        placed.append(target)
    return placed


def _input_value(value: Any) -> Any:
    """A pipeline input of an azure-ai-ml entity as the twin takes it: a literal, or the path
    of a data input (``azureml:`` restored on a short asset reference, which the SDK drops)."""
    data = getattr(value, "_data", value)  # PipelineInput wraps the loaded Input or literal
    path = getattr(data, "path", None)
    if path is None:
        return data
    text = str(path)
    short = "://" not in text and not text.startswith(("/", ".", "azureml:"))
    if short and ("@" in text or ":" in text) and not Path(text).exists():
        return f"azureml:{text}"
    return text


def _inputs(entity: Any) -> dict[str, Any]:
    return {str(k): _input_value(v) for k, v in (getattr(entity, "inputs", None) or {}).items()}


def submit_pipeline_job(
    store: Store, ws_name: str, entity: Any, source: Path, job_sets: dict[str, str] | None = None
) -> dict[str, Any]:
    """Create a pipeline job from its azure-ai-ml entity and run it with the local twin.

    The entity is what the job's creator built and sends: for ``az ml job create`` the file
    loaded with ``--set`` and ``--name`` as params_override (custom/job.py:ml_job_create:
    ``params_override.append({"name": name})``, then ``load_job``), for the SDK seam the
    object passed to ``jobs.create_or_update``. Its name (unique in the workspace, generated
    when the spec gives none: reference-yaml-job-pipeline), experiment, display name, tags
    and default compute are the job's; its inputs that differ from the file's are what the
    twin runs with, so a ``--set inputs.x=...`` or a changed ``job.inputs.x`` takes effect.
    ``job_sets`` are the ``--set jobs.<job>.<path>=VALUE`` entries (keyed ``<job>.<path>``),
    which the twin sets into those jobs (``mlops.local.pipeline.set_job_fields``).
    """
    from azure.ai.ml import load_job

    if getattr(entity, "type", None) != "pipeline":
        raise BadRequest(f"{source}: only pipeline jobs are emulated (type {entity.type})")
    baseline = _inputs(load_job(source=str(source)))
    overrides = {k: v for k, v in _inputs(entity).items() if baseline.get(k, object()) != v}
    settings_ = getattr(entity, "settings", None)
    compute = getattr(entity, "compute", None) or getattr(settings_, "default_compute", None)
    compute = str(compute or "").removeprefix("azureml:")
    with store.locked() as data:
        ws = workspace(data, ws_name)
        name = str(getattr(entity, "name", None) or _new_job_name("pipelinejob"))
        if name in ws["jobs"]:
            raise BadRequest(f"a job named {name} already exists in workspace {ws_name}")
        if compute and compute not in ws["computes"]:
            raise BadRequest(f"compute {compute} of job {name} not found in workspace {ws_name}")
        job = {
            "name": name,
            "type": "pipeline",
            "status": "Running",
            "display_name": getattr(entity, "display_name", None) or name,
            "experiment_name": getattr(entity, "experiment_name", None),
            "tags": {str(k): str(v) for k, v in (getattr(entity, "tags", None) or {}).items()},
            "compute": compute or None,
            "overrides": {k: str(v) for k, v in overrides.items()},
            "job_sets": dict(job_sets or {}),
            "created_at": now(),
            "file": str(source),
        }
        ws["jobs"][name] = job
        env = ws["env"]
    # Azure ML runs the job after create returns; here it runs to the end first, so the
    # template's wait step finds it finished (its own timeout still applies on Azure).
    children = run_pipeline_job(job, env, overrides)
    with store.locked() as data:
        jobs = data["workspaces"][ws_name]["jobs"]
        jobs[name] = job
        jobs.update(children)
    return job


def run_pipeline_job(job: dict[str, Any], env: str, overrides: dict[str, Any]) -> dict[str, Any]:
    """Run the job's pipeline file with the local twin; fills status, children and outputs."""
    from mlops.local.pipeline import load_pipeline
    from mlops.local.runner import run_pipeline

    loaded = load_pipeline(Path(job["file"]), overrides=overrides, job_sets=job.get("job_sets"))
    result = run_pipeline(loaded, env=env, overrides=overrides)
    failed = result.failed
    job["status"] = "Failed" if failed is not None else "Completed"
    job["local_run"] = str(result.run_dir)
    children = {}
    for step in result.steps:
        child = f"{job['name']}_{step.name}"
        outputs = {
            out: str(path) for (sname, out), path in result.outputs.items() if sname == step.name
        }
        state = {"succeeded": "Completed", "failed": "Failed", "skipped": "Canceled"}.get(
            step.state, "NotStarted"
        )
        children[child] = {
            "name": child,
            "type": "command",
            "status": state,
            "display_name": step.name,
            "parent": job["name"],
            "outputs": outputs,
            "created_at": job["created_at"],
        }
    job["children"] = list(children)
    if failed is not None:
        job["error"] = f"step {failed.name} failed: {failed.cause}"
    return children


def dump(value: Any) -> str:
    return json.dumps(value, indent=2, default=str)


def _settings_home() -> Path:
    return settings.mlops_home()
