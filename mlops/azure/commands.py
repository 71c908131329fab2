"""``mlops azure ...``: the Azure-side helpers the Azure DevOps templates call."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from taxi_fare.step_files import read_decision, read_model_info

from mlops import aml_client
from mlops.azure import assets, endpoints, gate, outputs, tooling
from mlops.azure.batch_output import check_row_count, predictions_file
from mlops.azure.jobs import JobWaiter, WaitPolicy
from mlops.azure.names import render
from mlops.azure.release_vars import release_variables
from mlops.azure.submit.command import submit as submit_command
from mlops.azure.vso import set_variable
from mlops.errors import MlopsError
from mlops.registry.pins import deploy_pins, export_code
from mlops.registry.releases import environment_spec, load_release
from mlops.settings import REPO_ROOT

azure_app = typer.Typer(
    no_args_is_help=True,
    help="Azure helpers for the Azure DevOps pipelines (wait for jobs, outputs, gate, assets).",
)

SubscriptionOpt = Annotated[
    str | None, typer.Option("--subscription-id", envvar="AML_SUBSCRIPTION_ID", show_envvar=True)
]
ResourceGroupOpt = Annotated[
    str | None, typer.Option("--resource-group", envvar="AML_RESOURCE_GROUP", show_envvar=True)
]
WorkspaceOpt = Annotated[
    str | None, typer.Option("--workspace", envvar="AML_WORKSPACE", show_envvar=True)
]


def _client(subscription_id: str | None, resource_group: str | None, workspace: str | None):
    ref = aml_client.WorkspaceRef.resolve(subscription_id, resource_group, workspace)
    return ref, aml_client.ml_client(ref)


def check_cli(
    min_version: Annotated[str | None, typer.Option(help="Minimum azure-cli version.")] = None,
    ml_version: Annotated[
        str | None, typer.Option(help="Required 'ml' extension version (checked when given).")
    ] = None,
) -> None:
    """Fail unless the agent's Azure CLI is new enough (and the ml extension is the pinned one)."""
    versions = tooling.verify_cli(minimum=min_version or tooling.MIN_AZ_CLI, ml_version=ml_version)
    ext = (versions.get("extensions") or {}).get("ml", "not installed")
    typer.echo(f"azure-cli {versions.get('azure-cli')}, ml extension {ext}: ok")


def pins() -> None:
    """Print the pinned Azure CLI minimum and ml extension version as KEY=VALUE lines."""
    typer.echo(f"MIN_AZ_CLI={tooling.MIN_AZ_CLI}")
    typer.echo(f"ML_EXTENSION={tooling.ML_EXTENSION}")


def wait_job(
    name: Annotated[str, typer.Option("--name", help="Azure ML job name.")],
    timeout_minutes: Annotated[float, typer.Option(help="Give up (and cancel) after this.")],
    poll_seconds: Annotated[float, typer.Option(help="Seconds between status reads.")] = 30.0,
    cancel_on_timeout: Annotated[bool, typer.Option(help="Cancel the job on timeout.")] = True,
    subscription_id: SubscriptionOpt = None,
    resource_group: ResourceGroupOpt = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Follow a job to a terminal state; Failed, Canceled or a timeout exit non-zero."""
    policy = WaitPolicy(
        timeout_s=timeout_minutes * 60,
        poll_s=poll_seconds,
        cancel_on_timeout=cancel_on_timeout,
    )
    ref, client = _client(subscription_id, resource_group, workspace)
    status = JobWaiter(client, refresh=lambda: aml_client.ml_client(ref), policy=policy).wait(name)
    typer.echo(f"job {name}: {status}")


def download_outputs(
    name: Annotated[str, typer.Option("--name", help="Azure ML job name.")],
    dest: Annotated[Path, typer.Option(help="Folder that receives one sub-folder per output.")],
    output: Annotated[
        list[str] | None, typer.Option("--output", help="Pipeline-level output -> DEST/<name>/.")
    ] = None,
    step_output: Annotated[
        list[str] | None,
        typer.Option("--step-output", help="STEP:OUTPUT of one pipeline step -> DEST/<step>/."),
    ] = None,
    expect: Annotated[
        list[str] | None, typer.Option(help="File that must exist: <output>/<relative path>.")
    ] = None,
    subscription_id: SubscriptionOpt = None,
    resource_group: ResourceGroupOpt = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Download job outputs (the pipeline's or its steps') and check the expected files."""
    outputs.parse_wanted(output or (), step_output or ())  # refuse bad arguments before connecting
    _, client = _client(subscription_id, resource_group, workspace)
    placed = outputs.download_outputs(
        client, name, output or (), dest, expect or (), step_output or ()
    )
    for folder, path in placed.items():
        typer.echo(f"{folder}: {path}")


def gate_decision(
    file: Annotated[Path, typer.Option("--file", help="decision.json of the evaluate step.")],
    model_info: Annotated[
        Path | None, typer.Option(help="model_info.json of the register step (optional).")
    ] = None,
) -> None:
    """Print the gate decision as ##vso output variables (promote, reason, model_version)."""
    decision = read_decision(file)
    variables = gate.decision_variables(decision)
    if model_info is not None:
        info = read_model_info(model_info)
        gate.consistent(decision, info, file, model_info)
        variables.update(gate.model_info_variables(info))
    for line in gate.output_lines(variables):
        typer.echo(line)


def ensure_asset(
    file: Annotated[
        Path | None,
        typer.Option(
            "--file",
            help="Environment or data asset YAML spec (with --release and no --file: the spec "
            "of the environment the release pins).",
        ),
    ] = None,
    kind: Annotated[str | None, typer.Option(help="environment or data ($schema decides).")] = None,
    release: Annotated[
        str | None,
        typer.Option(
            help="stage or prod: create it in that release's registry and require the version "
            "to be the release's environment pin (instead of the workspace)."
        ),
    ] = None,
    releases_dir: Annotated[
        Path | None, typer.Option(help="Folder of the release files (default mlops/releases).")
    ] = None,
    subscription_id: SubscriptionOpt = None,
    resource_group: ResourceGroupOpt = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Show-then-create an environment or data asset; a re-run changes nothing."""
    if file is None and not release:
        raise MlopsError("ensure-asset needs --file (or --release: the pinned environment's spec)")
    expected = None
    if release:
        pinned = load_release(release, releases_dir)
        deploy_pins(pinned)  # refuses an unpinned release
        assert pinned.environment is not None
        # The score env for a RandomForest release, the AutoML runtime for an AutoML one.
        file = file or environment_spec(pinned.environment.name)
        spec = assets.read_spec(file, kind)
        if pinned.environment.name != spec.name:
            raise MlopsError(
                f"{file}: defines {spec.name}, but the {release} release pins "
                f"environment {pinned.environment.name}"
            )
        expected = str(pinned.environment.version)
        if spec.version != expected:
            raise MlopsError(
                f"{file}: version {spec.version}, but the {release} release pins version "
                f"{expected}; the pinned version is registered from a spec that says so"
            )
        client = aml_client.registry_ml_client(pinned.model.registry)  # the seam (emulated)
    else:
        assert file is not None
        spec = assets.read_spec(file, kind)
        _, client = _client(subscription_id, resource_group, workspace)
    version = assets.ensure_asset(client, spec)
    typer.echo(f"{spec.kind} {spec.name}:{version}")


def ensure_endpoint(
    kind: Annotated[str, typer.Option(help="online or batch.")],
    file: Annotated[Path, typer.Option("--file", help="Endpoint YAML spec.")],
    name: Annotated[str, typer.Option("--name", help="Endpoint name (variables/names.yml).")],
    apply_settings: Annotated[
        bool,
        typer.Option(
            "--apply-settings",
            help="Update description/auth mode/tags of a live endpoint, keeping its traffic.",
        ),
    ] = False,
    subscription_id: SubscriptionOpt = None,
    resource_group: ResourceGroupOpt = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Create the endpoint if it is missing; a live one is never re-applied over."""
    if kind not in endpoints.KINDS:
        raise MlopsError(f"--kind {kind!r}: expected one of {', '.join(endpoints.KINDS)}")
    if not file.is_file():
        raise MlopsError(f"{file}: endpoint spec not found")
    _, client = _client(subscription_id, resource_group, workspace)
    state = endpoints.ensure_endpoint(client, kind, file, name, apply_settings=apply_settings)
    typer.echo(f"{kind} endpoint {name}: {state}")


def names(
    env: Annotated[str, typer.Option(help="dev, stage or prod.")] = "dev",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show the derived Azure names of an environment; exit 1 if one breaks Azure's limits."""
    rendered = render(env)
    if as_json:
        typer.echo(json.dumps(rendered.names, indent=2))
    else:
        for key, value in rendered.names.items():
            typer.echo(f"{key:24} {value}")
    problems = rendered.problems()
    if problems:
        raise MlopsError("; ".join(problems))


def release_vars(
    env: Annotated[str, typer.Option(help="stage or prod.")],
    releases_dir: Annotated[
        Path | None, typer.Option(help="Folder of the release files (default mlops/releases).")
    ] = None,
) -> None:
    """Print the release file of ENV as ##vso variables (MODEL_URI, ROLLOUT_STEPS, ...)."""
    for key, value in release_variables(env, releases_dir).items():
        typer.echo(set_variable(key, value))


def release_code(
    commit: Annotated[str, typer.Option(help="Pinned code commit (CODE_COMMIT of read-release).")],
    dest: Annotated[Path, typer.Option(help="New folder to export data-science/src into.")],
    variable: Annotated[
        str, typer.Option(help="Job variable that receives the exported folder.")
    ] = "CODE_DIR",
) -> None:
    """Export data-science/src at the pinned commit; print its folder as a ##vso variable."""
    exported = export_code(REPO_ROOT, commit, dest)
    typer.echo(set_variable(variable, str(exported)))


def batch_rows(
    input_folder: Annotated[Path, typer.Option("--input", help="Folder the batch job scored.")],
    predictions: Annotated[
        Path | None, typer.Option(help="The append_row output file itself.")
    ] = None,
    download_dir: Annotated[
        Path | None,
        typer.Option(help="Folder `az ml job download --output-name` wrote (the file is found)."),
    ] = None,
    output_name: Annotated[str, typer.Option(help="Output name given to the download.")] = "score",
    file_name: Annotated[
        str, typer.Option(help="settings.output_file_name of the batch deployment.")
    ] = "predictions.csv",
) -> None:
    """Fail unless the batch output holds exactly one prediction per input row."""
    if (predictions is None) == (download_dir is None):
        raise MlopsError("give exactly one of --predictions FILE or --download-dir DIR")
    if download_dir is not None:
        predictions = predictions_file(download_dir, output_name, file_name)
    assert predictions is not None
    rows = check_row_count(input_folder, predictions)
    typer.echo(f"batch output: {rows} predictions for {rows} input rows")


def register(app: typer.Typer) -> None:
    azure_app.command("check-cli")(check_cli)
    azure_app.command("pins")(pins)
    azure_app.command("wait-job")(wait_job)
    azure_app.command("download-outputs")(download_outputs)
    azure_app.command("gate-decision")(gate_decision)
    azure_app.command("ensure-asset")(ensure_asset)
    azure_app.command("ensure-endpoint")(ensure_endpoint)
    azure_app.command("names")(names)
    azure_app.command("release-vars")(release_vars)
    azure_app.command("batch-rows")(batch_rows)
    azure_app.command("release-code")(release_code)
    azure_app.command("submit")(submit_command)
    app.add_typer(azure_app, name="azure")
