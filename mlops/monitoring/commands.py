"""``mlops monitor``: drift and data quality of an environment's model, locally.

``mlops monitor-spec``: the per-environment Azure ML monitor spec the pipelines create.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

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
    import json

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
    from mlops.monitoring.render import busiest_deployment, render_monitor_spec

    if traffic is not None and deployment is None:
        deployment = busiest_deployment(traffic)
    render_monitor_spec(env, out, endpoint, deployment, emails, train_data)
    typer.echo(f"wrote {out}")


def monitor_deployment(
    traffic: Annotated[
        str, typer.Option("--traffic", help="JSON of `az ml online-endpoint show --query traffic`.")
    ],
) -> None:
    """Print the deployment (colour) that takes the most traffic."""
    from mlops.monitoring.render import busiest_deployment

    typer.echo(busiest_deployment(traffic))


def monitor_queue(
    pipeline: Annotated[str, typer.Option("--pipeline", help="Pipeline to queue, by name.")],
    branch: Annotated[str, typer.Option("--branch", help="Branch to run.")] = "refs/heads/main",
) -> None:
    """Queue an Azure DevOps pipeline (from a job: SYSTEM_* variables and the access token)."""
    import os

    from mlops.monitoring.queue import queue_pipeline

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
    app.command("monitor-spec")(monitor_spec)
    app.command("monitor-queue")(monitor_queue)
    app.command("monitor-deployment")(monitor_deployment)
