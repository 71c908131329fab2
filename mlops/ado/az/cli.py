"""``az`` inside ``mlops ado run`` steps: the subset of the Azure CLI and its ml extension
that this repository's templates call, with the flags they pass.

Parsing is strict like the real CLI (knack/argparse): an unknown command or flag exits 2
with the CLI's message, so a typo fails here as it would on the agent. Output follows
``--output`` (json, tsv, none) and a ``--query`` of dotted keys (the only JMESPath form the
templates use). Command semantics are in :mod:`mlops.ado.az.ops` with their sources.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mlops.ado.az import ops
from mlops.ado.az.store import SUBSCRIPTION_ID, TENANT_ID, Store

AZ_CLI_VERSION = "2.67.0"  # what `az version` reports: the oldest the templates accept

SCOPE = ["--resource-group/-g", "--workspace-name/-w"]
NAMED = ["--name/-n", *SCOPE]
# command -> flags it accepts ("--x/-y" = value, "--x!" = switch, "--x+" = one or more values)
COMMANDS: dict[str, list[str]] = {
    "account show": [],
    "version": [],
    "extension add": ["--name/-n", "--version", "--yes/-y!", "--upgrade!"],
    "extension show": ["--name/-n"],
    "extension list": [],
    "ml workspace show": NAMED,
    "ml compute show": NAMED,
    "ml compute create": [
        *NAMED,
        "--type/-t",
        "--size",
        "--min-instances",
        "--max-instances",
        "--idle-time-before-scale-down",
        "--identity-type",
        "--user-assigned-identities",
        "--file/-f",
        "--set+",
    ],
    "ml compute update": [
        *NAMED,
        "--min-instances",
        "--max-instances",
        "--idle-time-before-scale-down",
        "--identity-type",
        "--user-assigned-identities",
    ],
    "ml job create": [*SCOPE, "--file/-f", "--set+", "--name/-n", "--stream!", "--web!"],
    "ml job show": NAMED,
    "ml job download": [*NAMED, "--output-name", "--download-path/-p", "--all!"],
    "ml job cancel": NAMED,
    "ml model show": ["--name/-n", "--version/-v", "--label/-l", *SCOPE, "--registry-name"],
    "ml model list": ["--name/-n", *SCOPE, "--registry-name"],
    "ml model share": [
        *NAMED,
        "--version/-v",
        "--registry-name",
        "--share-with-name",
        "--share-with-version",
    ],
    "ml environment show": ["--name/-n", "--version/-v", "--label/-l", *SCOPE],
    "ml environment create": [*SCOPE, "--file/-f", "--set+", "--name/-n", "--version/-v"],
    "ml data show": ["--name/-n", "--version/-v", "--label/-l", *SCOPE],
    "ml data create": [*SCOPE, "--file/-f", "--set+", "--name/-n", "--version/-v"],
    "ml online-endpoint show": NAMED,
    "ml online-endpoint create": [*NAMED, "--file/-f", "--set+", "--auth-mode", "--no-wait!"],
    "ml online-endpoint update": [*NAMED, "--file/-f", "--set+", "--traffic", "--no-wait!"],
    "ml online-endpoint get-credentials": NAMED,
    "ml online-endpoint invoke": [*NAMED, "--request-file/-r", "--deployment-name/-d"],
    "ml online-endpoint list": SCOPE,
    "ml online-deployment show": [*NAMED, "--endpoint-name/-e"],
    "ml online-deployment list": [*SCOPE, "--endpoint-name/-e"],
    "ml online-deployment create": [
        *NAMED,
        "--endpoint-name/-e",
        "--file/-f",
        "--set+",
        "--all-traffic!",
        "--skip-script-validation!",
        "--no-wait!",
    ],
    "ml online-deployment update": [
        *NAMED,
        "--endpoint-name/-e",
        "--file/-f",
        "--set+",
        "--no-wait!",
    ],
    "ml batch-endpoint show": NAMED,
    "ml batch-endpoint create": [*NAMED, "--file/-f", "--set+", "--no-wait!"],
    "ml batch-endpoint update": [*NAMED, "--file/-f", "--set+", "--no-wait!"],
    "ml batch-endpoint invoke": [
        *NAMED,
        "--input",
        "--input-type",
        "--deployment-name/-d",
        "--set+",
    ],
    "ml batch-deployment show": [*NAMED, "--endpoint-name/-e"],
    "ml batch-deployment create": [
        *NAMED,
        "--endpoint-name/-e",
        "--file/-f",
        "--set+",
        "--set-default!",
        "--no-wait!",
    ],
    "ml batch-deployment update": [
        *NAMED,
        "--endpoint-name/-e",
        "--file/-f",
        "--set+",
        "--no-wait!",
    ],
    "ml registry show": ["--name/-n", "--resource-group/-g"],
}
GLOBAL = [
    "--output/-o",
    "--query",
    "--only-show-errors!",
    "--debug!",
    "--verbose!",
    "--subscription",
]
NOT_EMULATED = ("deployment", "bicep", "group", "role", "keyvault", "storage", "login", "logout")


class UsageError(Exception):
    """Exit 2, like the CLI's parser errors."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse hook
        raise UsageError(message)


def _parser(command: str) -> _Parser:
    # Parse errors exit 2 (azure-cli src/azure-cli-core/azure/cli/core/parser.py:
    # AzCliCommandParser.error). Abbreviated flags are refused here on purpose, so a
    # `--workspace` typo for `--workspace-name` fails before it reaches Azure.
    parser = _Parser(prog=f"az {command}", add_help=False, allow_abbrev=False)
    for spec in [*COMMANDS[command], *GLOBAL]:
        switch, many = spec.endswith("!"), spec.endswith("+")
        names = spec.rstrip("!+").split("/")
        dest = names[0].lstrip("-").replace("-", "_")
        if switch:
            parser.add_argument(*names, dest=dest, action="store_true")
        elif many:
            parser.add_argument(*names, dest=dest, nargs="+", action="extend")
        else:
            parser.add_argument(*names, dest=dest)
    return parser


def _split(argv: list[str]) -> tuple[str, list[str]]:
    words = []
    for word in argv:
        if word.startswith("-"):
            break
        words.append(word)
    for length in range(len(words), 0, -1):
        command = " ".join(words[:length])
        if command in COMMANDS:
            return command, argv[length:]
    if words and words[0] in NOT_EMULATED:
        raise UsageError(
            f"'az {words[0]}' is not emulated by mlops ado run (ARM deployments and infrastructure "
            "only expand here)"
        )
    shown = " ".join(words) or " ".join(argv)
    raise UsageError(f"'{shown}' is misspelled or not recognized by the system.")


def _query(value: Any, query: str | None) -> Any:
    if not query:
        return value
    for part in query.split("."):
        if not part.replace("_", "").replace("-", "").isalnum():
            raise UsageError(f"--query {query!r}: only dotted keys are emulated")
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _print(value: Any, args: argparse.Namespace) -> None:
    if value is None:  # commands without a result print nothing
        return
    value = _query(value, args.query)
    fmt = (args.output or "json").lower()
    if fmt == "none" or (value is None and fmt == "tsv"):
        return
    if fmt == "tsv":
        if isinstance(value, dict):
            print("\t".join(str(v) for v in value.values()))
        elif isinstance(value, list):
            for item in value:
                print("\t".join(str(v) for v in item.values()) if isinstance(item, dict) else item)
        else:
            print(value)
        return
    if fmt not in ("json", "jsonc", "yaml", "table"):
        raise UsageError(f"argument --output/-o: invalid choice: '{fmt}'")
    print(json.dumps(value, indent=2, default=str))


def _load(kind: str, args: argparse.Namespace, extra: list[dict[str, Any]] | None = None) -> Any:
    """The entity of ``--file`` loaded by azure-ai-ml with ``--set`` as params_override."""
    # Where the ml extension imports its loaders from (custom/*.py).
    from azure.ai.ml.entities import _load_functions as sdk

    loader: Callable[..., Any] = getattr(sdk, f"load_{kind}")
    overrides = [*(extra or []), *ops._overrides(getattr(args, "set", None))]
    if not args.file:
        raise UsageError("the following arguments are required: --file/-f")
    try:
        return loader(source=args.file, params_override=overrides)
    except FileNotFoundError:
        raise ops.AzError(f"file {args.file} not found") from None
    except Exception as exc:  # ValidationException, marshmallow errors
        raise ops.AzError(f"{args.file}: {str(exc).strip().splitlines()[0]}") from None


def _extension_dir() -> Path:
    return Path(os.environ.get("AZURE_EXTENSION_DIR") or Path.home() / ".azure" / "cliextensions")


def _extensions() -> dict[str, str]:
    path = _extension_dir() / "mlops-ado-extensions.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def run(command: str, args: argparse.Namespace) -> Any:
    if command == "version":
        return {
            "azure-cli": AZ_CLI_VERSION,
            "azure-cli-core": AZ_CLI_VERSION,
            "extensions": _extensions(),
        }
    if command == "account show":
        return {
            "id": SUBSCRIPTION_ID,
            "tenantId": TENANT_ID,
            "name": "emulated",
            "state": "Enabled",
            "user": {
                "name": os.environ.get("AZURESUBSCRIPTION_SERVICE_CONNECTION_ID", "laptop"),
                "type": "servicePrincipal",
            },
        }
    if command == "extension add":
        if args.name != "ml":
            raise ops.AzError(f"extension {args.name!r} is not emulated (only ml)")
        installed = {**_extensions(), "ml": args.version or "2.38.1"}
        _extension_dir().mkdir(parents=True, exist_ok=True)
        (_extension_dir() / "mlops-ado-extensions.json").write_text(json.dumps(installed))
        return None
    if command == "extension show":
        version = _extensions().get(args.name)
        if version is None:
            raise ops.NotFound("Extension", args.name, str(_extension_dir()))
        return {"name": args.name, "version": version}
    if command == "extension list":
        return [{"name": k, "version": v} for k, v in _extensions().items()]
    if command.split(maxsplit=1)[0] == "ml" and "ml" not in _extensions():
        raise UsageError(
            f"'{command}' is misspelled or not recognized by the system. "
            "(the ml extension is not installed: az extension add --name ml)"
        )
    return _ml(command, args)


def _ml(command: str, args: argparse.Namespace) -> Any:
    store = Store.open()
    group, verb = command.split()[1], command.split()[2]
    if group == "registry":
        with store.locked() as data:
            found = ops.registry(data, args.name)
            return {"name": args.name, "resource_group": found.get("resource_group")}
    if group == "model" and args.registry_name:
        with store.locked() as data:
            if verb == "show":
                return ops.model_show(
                    data, None, args.registry_name, args.name, args.version or args.label
                )
            versions = (
                (ops.registry(data, args.registry_name)["models"].get(args.name) or [])
                if args.name
                else []
            )
            return [
                {"name": args.name, "version": str(v["version"]), "tags": v.get("tags", {})}
                for v in versions
            ]
    if group == "job" and verb == "create":
        return _job_create(store, args)
    with store.locked() as data:
        if group == "workspace":
            ws = ops.workspace(data, args.name, args.resource_group)
            return {
                "name": args.name,
                "resource_group": ws["resource_group"],
                "location": ws["location"],
            }
        ws_name = args.workspace_name or os.environ.get("AML_WORKSPACE")
        ws = ops.workspace(data, ws_name, args.resource_group)
        if group == "workspace":
            return {
                "name": args.name,
                "resource_group": ws["resource_group"],
                "location": ws["location"],
            }
        if group == "compute":
            return _compute(ws, verb, args)
        if group == "model":
            if verb == "show":
                return ops.model_show(data, ws, None, args.name, args.version or args.label)
            if verb == "share":
                return ops.model_share(
                    store,
                    data,
                    ws,
                    args.name,
                    args.version,
                    args.registry_name,
                    args.share_with_name or args.name,
                    args.share_with_version or args.version,
                )
            from mlops.ado.az import models

            return [
                {"name": n, "version": str(v["version"]), "tags": v["tags"]}
                for n, vs in models.workspace_models(ws).items()
                if not args.name or n == args.name
                for v in vs
            ]
        if group in ("environment", "data"):
            if verb == "show":
                return ops.asset_show(ws, group, args.name, args.version or args.label)
            entity = _load(group, args, [{"name": args.name}] if args.name else None)
            if args.version:
                entity.version = args.version
            return ops.asset_create(ws, group, entity)
        if group == "job":
            job = ops.job_show(ws, args.name)
            if verb == "show":
                return job
            if verb == "cancel":
                if job["status"] in ("Running", "Queued", "NotStarted"):
                    job["status"] = "Canceled"
                return None
            target = Path(args.download_path or ".")
            ops.job_download(ws, args.name, None if args.all else args.output_name, target)
            return None
        if group == "online-endpoint":
            return _online_endpoint(store, data, ws_name, ws, verb, args)
        if group == "online-deployment":
            return _online_deployment(store, data, ws_name, ws, verb, args)
        if group == "batch-endpoint":
            return _batch_endpoint(store, data, ws, verb, args)
        if group == "batch-deployment":
            return _batch_deployment(store, data, ws, verb, args)
    raise UsageError(
        f"'{command}' is misspelled or not recognized by the system."
    )  # pragma: no cover


def _compute(ws: dict[str, Any], verb: str, args: argparse.Namespace) -> Any:
    if verb == "show":
        return ops.compute_show(ws, args.name)
    settings_ = {
        "min_instances": args.min_instances,
        "max_instances": args.max_instances,
        "idle_time_before_scale_down": args.idle_time_before_scale_down,
        "identity_type": args.identity_type,
    }
    if verb == "create":
        settings_.update(size=args.size, type=args.type or "amlcompute")
    return ops.compute_put(ws, args.name, settings_, create=verb == "create")


def _online_endpoint(
    store: Store,
    data: dict[str, Any],
    ws_name: str,
    ws: dict[str, Any],
    verb: str,
    args: argparse.Namespace,
) -> Any:
    if verb == "list":
        return [
            ops.online_endpoint_view(ws_name, n, e, None) for n, e in ws["online_endpoints"].items()
        ]
    if verb in ("show", "get-credentials", "invoke") and args.name not in ws["online_endpoints"]:
        raise ops.NotFound("Online endpoint", args.name, f"workspace {ws_name}")
    if verb == "show":
        uri = ops.serve_endpoint(store, data, ws_name, args.name)
        return ops.online_endpoint_view(ws_name, args.name, ws["online_endpoints"][args.name], uri)
    if verb == "get-credentials":
        return ops.endpoint_keys(data, ws_name, args.name)
    if verb == "invoke":
        import requests

        uri = ops.serve_endpoint(store, data, ws_name, args.name)
        headers = {
            "Content-Type": "application/json",
            "Authorization": f"Bearer {ops.endpoint_keys(data, ws_name, args.name)['primaryKey']}",
        }
        if args.deployment_name:
            headers["azureml-model-deployment"] = args.deployment_name
        body = Path(args.request_file).read_bytes() if args.request_file else b"{}"
        answer = requests.post(uri, data=body, headers=headers, timeout=60)
        if answer.status_code >= 400:
            raise ops.AzError(f"({answer.status_code}) {answer.text.strip()[:300]}")
        return answer.json()
    if verb == "update" and not args.file:
        endpoint = ws["online_endpoints"].get(args.name)
        if endpoint is None:
            raise ops.NotFound("Online endpoint", args.name, f"workspace {ws_name}")
        if args.traffic:
            traffic = dict(item.split("=", 1) for item in args.traffic.split())
            ops.set_traffic(endpoint, {k: int(v) for k, v in traffic.items()}, args.name)
        for item in ops._overrides(args.set):
            ((key, value),) = item.items()
            if key.startswith("traffic."):
                ops.set_traffic(
                    endpoint, {**endpoint["traffic"], key.split(".", 1)[1]: int(value)}, args.name
                )
            else:
                raise UsageError(
                    f"--set {key}: only traffic.<deployment> is emulated without --file"
                )
        return ops.online_endpoint_view(ws_name, args.name, endpoint, None)
    extra = [{"name": args.name.lower()}] if args.name else []
    if verb == "create" and args.auth_mode:
        extra.append({"auth_mode": args.auth_mode.lower()})
    entity = _load("online_endpoint", args, extra)
    endpoint = ops.online_endpoint_put(data, ws, entity, create=verb == "create")
    return ops.online_endpoint_view(ws_name, entity.name, endpoint, None)


def _online_deployment(
    store: Store,
    data: dict[str, Any],
    ws_name: str,
    ws: dict[str, Any],
    verb: str,
    args: argparse.Namespace,
) -> Any:
    endpoint = ws["online_endpoints"].get(args.endpoint_name)
    if endpoint is None:
        raise ops.NotFound("Online endpoint", args.endpoint_name, f"workspace {ws_name}")
    if verb == "list":
        return [{"name": n, **d} for n, d in endpoint["deployments"].items()]
    if verb == "show":
        found = endpoint["deployments"].get(args.name)
        if found is None:
            raise ops.NotFound("Online deployment", args.name, f"endpoint {args.endpoint_name}")
        return {"name": args.name, "endpoint_name": args.endpoint_name, **found}
    extra = [{"name": args.name}] if args.name else []
    extra.append({"endpoint_name": args.endpoint_name})
    entity = _load("online_deployment", args, extra)
    if verb == "update" and entity.name not in endpoint["deployments"]:
        raise ops.NotFound("Online deployment", entity.name, f"endpoint {args.endpoint_name}")
    deployment = ops.online_deployment_put(store, data, ws_name, entity, create=verb == "create")
    ops.ensure_deployment_server(store, ws_name, args.endpoint_name, deployment, entity.name)
    if verb == "create" and args.all_traffic:
        ops.set_traffic(endpoint, {entity.name: 100}, args.endpoint_name)
    return {"name": entity.name, "endpoint_name": args.endpoint_name, **deployment}


def _batch_endpoint(
    store: Store, data: dict[str, Any], ws: dict[str, Any], verb: str, args: argparse.Namespace
) -> Any:
    if verb == "show":
        found = ws["batch_endpoints"].get(args.name)
        if found is None:
            raise ops.NotFound("Batch endpoint", args.name, f"workspace of {ws['env']}")
        return {
            "name": args.name,
            "defaults": {"deployment_name": found.get("default_deployment")},
            **found,
        }
    if verb == "invoke":
        return ops.batch_invoke(store, data, ws, args.name, args.input, args.deployment_name)
    if verb == "update" and not args.file:
        endpoint = ws["batch_endpoints"].get(args.name)
        if endpoint is None:
            raise ops.NotFound("Batch endpoint", args.name, f"workspace of {ws['env']}")
        for item in ops._overrides(args.set):
            ((key, value),) = item.items()
            if key != "defaults.deployment_name":
                raise UsageError(
                    f"--set {key}: only defaults.deployment_name is emulated without --file"
                )
            if value not in endpoint["deployments"]:
                raise ops.BadRequest(
                    f"default deployment {value} does not exist in batch endpoint {args.name}"
                )
            endpoint["default_deployment"] = value
        return {"name": args.name, **endpoint}
    entity = _load("batch_endpoint", args, [{"name": args.name}] if args.name else None)
    return {"name": entity.name, **ops.batch_endpoint_put(ws, entity, verb == "create", None)}


def _batch_deployment(
    store: Store, data: dict[str, Any], ws: dict[str, Any], verb: str, args: argparse.Namespace
) -> Any:
    if verb == "show":
        endpoint = ws["batch_endpoints"].get(args.endpoint_name)
        found = (endpoint or {}).get("deployments", {}).get(args.name)
        if found is None:
            raise ops.NotFound(
                "Batch deployment", args.name, f"batch endpoint {args.endpoint_name}"
            )
        return {"name": args.name, "endpoint_name": args.endpoint_name, **found}
    extra = [{"name": args.name}] if args.name else []
    extra.append({"endpoint_name": args.endpoint_name})
    # The loader follows the spec's `type`, as custom/batch_deployment.py
    # (ml_batch_deployment_create/_update) does: model -> load_model_batch_deployment.
    import yaml

    try:
        kind = (yaml.safe_load(Path(args.file or "").read_text()) or {}).get("type")
    except (OSError, yaml.YAMLError):
        kind = None
    if kind == "pipeline":
        raise UsageError("pipeline component batch deployments are not emulated")
    entity = _load("model_batch_deployment" if kind == "model" else "batch_deployment", args, extra)
    deployment = ops.batch_deployment_put(store, data, ws, entity, create=verb == "create")
    if verb == "create" and args.set_default:
        ws["batch_endpoints"][args.endpoint_name]["default_deployment"] = entity.name
    return {"name": entity.name, **deployment}


def _job_create(store: Store, args: argparse.Namespace) -> Any:
    """As custom/job.py:ml_job_create: ``--set`` then ``--name`` as params_override of
    ``load_job``, then ``jobs.create_or_update`` of that entity (the twin runs it)."""
    from azure.ai.ml import load_job

    if not args.file:
        raise UsageError("the following arguments are required: --file/-f")
    overrides = ops._overrides(args.set)
    if args.name is not None:
        overrides.append({"name": args.name})
    try:
        entity = load_job(source=args.file, params_override=overrides)
    except FileNotFoundError:
        raise ops.AzError(f"file {args.file} not found") from None
    except Exception as exc:  # ValidationException, marshmallow errors
        raise ops.AzError(f"{args.file}: {str(exc).strip().splitlines()[0]}") from None
    ws_name = args.workspace_name or os.environ.get("AML_WORKSPACE")
    with store.locked() as data:
        ops.workspace(data, ws_name, args.resource_group)
    job_sets = {
        key.removeprefix("jobs."): value
        for entry in overrides
        for key, value in entry.items()
        if key.startswith("jobs.")
    }
    return ops.submit_pipeline_job(store, str(ws_name), entity, Path(args.file), job_sets)


def main(argv: list[str] | None = None) -> int:
    import logging

    logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stderr)
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        command, rest = _split(argv)
        args = _parser(command).parse_args(rest)
        _print(run(command, args), args)
        return 0
    except UsageError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return 2
    except ops.AzError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return exc.code
    except Exception as exc:  # the CLI's catch-all (raise_error.log_and_raise_error)
        print(
            f"ERROR: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}",
            file=sys.stderr,
        )
        return 1
