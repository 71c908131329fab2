"""``mlops monitor``: drift and data quality of an environment's model, locally.

``mlops monitoring spec|apply|check|training-schedule|deployment|queue``: what the
monitoring pipelines call to create the Azure ML monitors and judge collected requests.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer

from mlops import aml_client
from mlops.monitoring.azure_ml import apply_monitor, apply_training_schedule, check_drift
from mlops.monitoring.queue import queue_pipeline
from mlops.monitoring.render import busiest_deployment, render_monitor_spec
from mlops.registry.releases import ModelRelease

# mlops.monitoring.report, .run and .signals stay inside `mlops monitor`: they load pandas
# and numpy, which the Azure helpers of `mlops monitoring ...` do not need.

#: Exit code when a signal is breached (0: none breached; 1: an error).
BREACHED_EXIT = 3


def monitor(
    env: Annotated[str, typer.Option("--env", help="dev, stage or prod.")] = "dev",
    target: Annotated[
        Path | None,
        typer.Option(
            "--target",
            help="Model inputs to judge: parquet/CSV file or folder "
            "(default: $MLOPS_HOME/<env>/collected).",
        ),
    ] = None,
    baseline: Annotated[
        Path | None,
        typer.Option(
            "--baseline", help="Reference rows (default: training split of the served model)."
        ),
    ] = None,
    model_dir: Annotated[
        Path | None,
        typer.Option("--model-dir", help="Model for prediction drift (default: the served one)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the signals as JSON.")] = False,
    report: Annotated[
        Path | None, typer.Option("--report", help="Write report.md and plots to this folder.")
    ] = None,
    retrain: Annotated[
        bool,
        typer.Option("--retrain", help="When breached, train on baseline + target (gated)."),
    ] = False,
) -> None:
    """Compare target with baseline using the signals and thresholds of the env's Azure ML
    monitor spec. Exit 0: nothing breached; 3: a signal breached; 1: an error."""
    from mlops.monitoring.report import write_report
    from mlops.monitoring.run import monitor as run_monitor
    from mlops.monitoring.run import retrain as run_retrain
    from mlops.monitoring.signals import summary

    run = run_monitor(env, target=target, baseline=baseline, model_dir=model_dir)
    if report is not None:
        write_report(
            report, run.results, run.baseline.features, run.target.features,
            run.spec.categorical, run.baseline_predictions, run.target_predictions,
            f"taxi-fare monitor ({env}): {run.target_path.name} vs {run.baseline_path.name}",
        )  # fmt: skip
    breached = [r for r in run.results if r.breached]
    if as_json:
        typer.echo(json.dumps(summary(run.results), indent=2))
    else:
        typer.echo(
            f"{env}: {run.target.rows:,} target rows vs {run.baseline.rows:,} baseline rows, "
            f"{len(run.results)} checks, {len(breached)} breached"
        )
        for r in breached:
            side = "<" if r.metric.endswith("_test") else ">"
            typer.echo(
                f"  breached: {r.signal} {r.feature} {r.metric} = {r.value:.4g} "
                f"({side} {r.threshold:g})"
            )
        if report is not None:
            typer.echo(f"report: {report / 'report.md'}")
    if breached and retrain:
        run_retrain(run)
    if breached:
        raise typer.Exit(BREACHED_EXIT)


def monitor_spec(
    env: Annotated[str, typer.Option("--env", help="dev, stage or prod.")],
    out: Annotated[Path, typer.Option("--out", help="Write the rendered spec here.")],
    endpoint: Annotated[
        str | None, typer.Option("--endpoint", help="Online endpoint name (derived names).")
    ] = None,
    deployment: Annotated[
        str | None, typer.Option("--deployment", help="Deployment (colour) taking traffic.")
    ] = None,
    emails: Annotated[
        str | None,
        typer.Option("--emails", help="Alert e-mails, comma-separated (config-infra-<env>.yml)."),
    ] = None,
    train_data: Annotated[
        str | None,
        typer.Option("--train-data", help="Reference data asset, e.g. azureml:taxi-fare-train:7"),
    ] = None,
    traffic: Annotated[
        str | None,
        typer.Option("--traffic", help="Endpoint traffic JSON; the busiest colour is monitored."),
    ] = None,
) -> None:
    """Render monitor-<env>.yml for one environment's live names; checked with azure-ai-ml."""
    if traffic is not None and deployment is None:
        deployment = busiest_deployment(traffic)
    render_monitor_spec(env, out, endpoint, deployment, emails, train_data)
    typer.echo(f"wrote {out}")


EnvOpt = Annotated[str, typer.Option("--env", help="stage or prod.")]
EndpointOpt = Annotated[str, typer.Option("--endpoint", help="Online endpoint name.")]
ModelName = Annotated[str, typer.Option("--model-name", envvar="MODEL_NAME")]
ModelVersion = Annotated[int, typer.Option("--model-version", envvar="MODEL_VERSION")]
ModelRegistry = Annotated[str, typer.Option("--model-registry", envvar="MODEL_REGISTRY")]
DevGroup = Annotated[str, typer.Option("--dev-resource-group", help="Dev workspace's group.")]
DevWorkspace = Annotated[str, typer.Option("--dev-workspace", help="Dev workspace (training).")]
DevSub = Annotated[
    str, typer.Option("--dev-subscription-id", help="'' = the workspace's subscription.")
]


def _clients(dev_sub: str, dev_group: str, dev_workspace: str, registry: str):
    """(env workspace, dev workspace, registry) clients; the env one from AML_* variables."""
    ref = aml_client.WorkspaceRef.resolve(
        os.environ.get("AML_SUBSCRIPTION_ID"),
        os.environ.get("AML_RESOURCE_GROUP"),
        os.environ.get("AML_WORKSPACE"),
    )
    dev_ref = aml_client.WorkspaceRef(dev_sub or ref.subscription_id, dev_group, dev_workspace)
    return (
        aml_client.ml_client(ref),
        aml_client.ml_client(dev_ref),
        aml_client.registry_ml_client(registry),
        (dev_ref.subscription_id, dev_group, dev_workspace),
    )


def monitor_apply(
    env: EnvOpt,
    endpoint: EndpointOpt,
    emails: Annotated[str, typer.Option("--emails", help="Alert e-mails, comma-separated.")],
    out: Annotated[Path, typer.Option("--out", help="Where the rendered spec is written.")],
    dev_resource_group: DevGroup,
    dev_workspace: DevWorkspace,
    model_name: ModelName,
    model_version: ModelVersion,
    model_registry: ModelRegistry,
    dev_subscription_id: DevSub = "",
) -> None:
    """Create or update the Azure ML monitor of an environment's online endpoint."""
    ml, dev, registry, dev_ref = _clients(
        dev_subscription_id, dev_resource_group, dev_workspace, model_registry
    )
    release = ModelRelease(model_name, model_version, model_registry)
    apply_monitor(ml, dev, registry, release, env, endpoint, emails, dev_ref, out)
    typer.echo(f"monitor of {endpoint} ({env}) applied from {out}")


def monitor_check(
    env: EnvOpt,
    endpoint: EndpointOpt,
    work: Annotated[Path, typer.Option("--work", help="Folder for downloads and the report.")],
    dev_resource_group: DevGroup,
    dev_workspace: DevWorkspace,
    model_name: ModelName,
    model_version: ModelVersion,
    model_registry: ModelRegistry,
    dev_subscription_id: DevSub = "",
    queue: Annotated[
        str | None, typer.Option("--queue", help="Pipeline to queue when a signal is breached.")
    ] = None,
) -> None:
    """Judge yesterday's collected requests; on a breach queue ``--queue`` (exit 0)."""
    ml, dev, registry, _ = _clients(
        dev_subscription_id, dev_resource_group, dev_workspace, model_registry
    )
    release = ModelRelease(model_name, model_version, model_registry)
    breached = check_drift(ml, dev, registry, release, env, endpoint, work)
    verdict = {True: "breached", False: "nothing breached", None: "no requests collected"}
    typer.echo(f"{env}: {verdict[breached]}")
    if breached and queue:
        monitor_queue(pipeline=queue)
    elif breached:
        raise typer.Exit(BREACHED_EXIT)


def training_schedule(
    enabled: Annotated[bool, typer.Option("--enabled/--disabled", help="Leave it enabled.")],
    spec: Annotated[Path, typer.Option("--file", help="Schedule spec.")] = Path(
        "mlops/azureml/train/schedule.yml"
    ),
) -> None:
    """Create or update the recurring training schedule, then enable or disable it."""
    ref = aml_client.WorkspaceRef.resolve(
        os.environ.get("AML_SUBSCRIPTION_ID"),
        os.environ.get("AML_RESOURCE_GROUP"),
        os.environ.get("AML_WORKSPACE"),
    )
    apply_training_schedule(aml_client.ml_client(ref), spec, enabled)
    typer.echo(f"training schedule from {spec}: {'enabled' if enabled else 'disabled'}")


def monitor_deployment(
    traffic: Annotated[
        str, typer.Option("--traffic", help="JSON of `az ml online-endpoint show --query traffic`.")
    ],
) -> None:
    """Print the deployment (colour) that takes the most traffic."""
    typer.echo(busiest_deployment(traffic))


def monitor_queue(
    pipeline: Annotated[str, typer.Option("--pipeline", help="Pipeline to queue, by name.")],
    branch: Annotated[str, typer.Option("--branch", help="Branch to run.")] = "refs/heads/main",
) -> None:
    """Queue an Azure DevOps pipeline (from a job: SYSTEM_* variables and the access token)."""
    run_id = queue_pipeline(
        os.environ.get("SYSTEM_COLLECTIONURI", ""),
        os.environ.get("SYSTEM_TEAMPROJECT", ""),
        pipeline,
        os.environ.get("SYSTEM_ACCESSTOKEN", ""),
        branch,
    )
    typer.echo(f"queued {pipeline} run {run_id}")


def register(app: typer.Typer) -> None:
    app.command("monitor")(monitor)
    helpers = typer.Typer(
        no_args_is_help=True, help="What the monitoring pipelines call (Azure ML, Azure DevOps)."
    )
    helpers.command("spec")(monitor_spec)
    helpers.command("apply")(monitor_apply)
    helpers.command("check")(monitor_check)
    helpers.command("training-schedule")(training_schedule)
    helpers.command("deployment")(monitor_deployment)
    helpers.command("queue")(monitor_queue)
    app.add_typer(helpers, name="monitoring")
