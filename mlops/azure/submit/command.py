"""``mlops azure submit``: the command line (typer only at import; the work loads on use)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

DETACHED_EXIT = 130  # interrupted by the user: the job runs on, the result is not known here


def submit(
    trainer: Annotated[
        str | None,
        typer.Option(help="automl (pipeline-automl.yml) or random_forest (pipeline.yml)."),
    ] = None,
    pipeline: Annotated[
        Path | None, typer.Option(help="Submit this pipeline YAML instead of a trainer's.")
    ] = None,
    env: Annotated[str, typer.Option(help="dev, stage or prod: config-infra-<env>.yml.")] = "dev",
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="NAME=VALUE: a pipeline input, or a dotted field as `az ml job create --set`.",
        ),
    ] = None,
    data: Annotated[
        str | None,
        typer.Option(help="The data input: NAME@VERSION (or @latest) of a data asset, or a PATH."),
    ] = None,
    wait: Annotated[
        bool, typer.Option("--wait/--no-wait", help="Follow the job (default) or exit once sent.")
    ] = True,
    summary_json: Annotated[
        Path | None, typer.Option("--summary-json", help="Write the submit summary here.")
    ] = None,
    subscription: Annotated[
        str | None,
        typer.Option(
            "--subscription",
            "--subscription-id",
            help="Subscription id (default AML_SUBSCRIPTION_ID, AZURE_SUBSCRIPTION_ID, az login).",
        ),
    ] = None,
    resource_group: Annotated[
        str | None, typer.Option(help="Override the resource group of config-infra-<env>.yml.")
    ] = None,
    workspace: Annotated[
        str | None, typer.Option(help="Override the workspace of config-infra-<env>.yml.")
    ] = None,
    poll_seconds: Annotated[
        float, typer.Option(min=0, help="Seconds between status reads while following.")
    ] = 15.0,
    download_dir: Annotated[
        Path | None,
        typer.Option(help="Where the step outputs go (default $MLOPS_HOME/azure-jobs/<job>)."),
    ] = None,
) -> None:
    """Run a training pipeline on Azure ML from this machine, follow it, print the gate verdict.

    Ctrl-C while following detaches: the job keeps running; the command says how to reattach.
    """
    import logging

    from mlops.azure.submit.run import Submission, SubmitRequest

    # azure-identity and azure-core log each credential probe and HTTP call at INFO; the
    # command says what matters itself.
    logging.getLogger("azure").setLevel(logging.WARNING)

    request = SubmitRequest(
        trainer=trainer,
        pipeline=pipeline,
        env=env,
        sets=tuple(set_ or ()),
        data=data,
        wait=wait,
        summary_json=summary_json,
        subscription=subscription,
        resource_group=resource_group,
        workspace=workspace,
        poll_s=poll_seconds,
        download_dir=download_dir,
    )
    result = Submission(request).run()
    if result.detached:
        raise typer.Exit(DETACHED_EXIT)
