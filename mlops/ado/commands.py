"""``mlops ado``: expand and run this repository's Azure DevOps pipelines on one machine."""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path
from typing import Annotated

import typer

from mlops.ado.az.store import Store
from mlops.ado.errors import AdoError
from mlops.ado.expand import compile_pipeline, dump
from mlops.ado.runner import RunOptions, run_pipeline
from mlops.errors import MlopsError

# mlops.ado.display stays inside `mlops ado run`: it loads rich (the live job display),
# which expand and state do not draw.

ado_app = typer.Typer(
    no_args_is_help=True,
    help="The local twin of Azure DevOps: expand and run the pipelines, show the emulated Azure.",
)

ParamOpt = Annotated[
    list[str] | None,
    typer.Option("--param", help="Runtime parameter NAME=VALUE (typed as declared), repeatable."),
]


def _params(items: list[str] | None) -> dict[str, str]:
    values: dict[str, str] = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise MlopsError(f"--param {item!r}: expected NAME=VALUE")
        values[name.strip()] = value
    return values


def expand(
    pipeline: Annotated[Path, typer.Argument(help="Entry pipeline YAML.")],
    param: ParamOpt = None,
) -> None:
    """Print the pipeline as Azure DevOps compiles it (templates inlined, ${{ }} evaluated)."""
    try:
        compiled = compile_pipeline(pipeline, _params(param))
    except AdoError as exc:  # exactly `file:line: message`, as the issue asks
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    typer.echo(dump(compiled), nl=False)


def run(
    pipeline: Annotated[Path, typer.Argument(help="Entry pipeline YAML.")],
    param: ParamOpt = None,
    branch: Annotated[str, typer.Option(help="Branch the run is for (a PR's target).")] = "main",
    pr_changed: Annotated[
        list[str] | None,
        typer.Option(
            "--pr-changed", help="Run as a pull-request build that changes PATH, repeatable."
        ),
    ] = None,
    skip_job: Annotated[
        list[str] | None,
        typer.Option(
            "--skip-job", help="Do not run this job (JOB or STAGE.JOB); shown as skipped."
        ),
    ] = None,
    summary_json: Annotated[
        Path | None, typer.Option("--summary-json", help="Write the run summary here.")
    ] = None,
) -> None:
    """Run the pipeline here: steps in bash, az emulated, state under $MLOPS_HOME/azure."""
    from mlops.ado.display import RichDisplay

    # TERM ends the run like Ctrl-C: the current step's processes and every inference
    # server the run started are stopped on the way out (Runner.run's finally).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    options = RunOptions(_params(param), branch, list(pr_changed or []), list(skip_job or []))
    display = RichDisplay()
    record = run_pipeline(pipeline, options, display)
    if summary_json is not None:
        summary_json.parent.mkdir(parents=True, exist_ok=True)
        summary_json.write_text(json.dumps(record.to_dict(), indent=2) + "\n")
    display.console.print(
        f"run {record.run_id}: {record.result} (logs: {record.run_dir})",
        soft_wrap=True,
        markup=False,
    )
    failed = record.failed_step
    if failed is not None:
        job, step = failed
        raise MlopsError(
            f"job {job.stage}.{job.name}: step '{step.display}' failed: {step.reason} "
            f"(log: {step.log})"
        )
    if record.result != "Succeeded":
        raise typer.Exit(1)


def state(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show what the emulated Azure holds ($MLOPS_HOME/azure)."""
    snapshot = Store.open().snapshot()
    if as_json:
        typer.echo(json.dumps(snapshot, indent=2))
        return
    for name, ws in snapshot["workspaces"].items():
        typer.echo(f"workspace {name} ({ws['env']})")
        for model, versions in ws["models"].items():
            typer.echo(
                f"  model {model}: versions {', '.join(str(v['version']) for v in versions)}"
            )
        for ep, endpoint in ws["online_endpoints"].items():
            deployments = ", ".join(
                f"{d}={info['model']}" for d, info in endpoint["deployments"].items()
            )
            typer.echo(f"  online endpoint {ep}: traffic {endpoint['traffic']} [{deployments}]")
        for ep, endpoint in ws["batch_endpoints"].items():
            typer.echo(f"  batch endpoint {ep}: default {endpoint['default_deployment']}")
        typer.echo(f"  jobs: {len(ws['jobs'])}")
    for name, registry in snapshot["registries"].items():
        for model, versions in registry["models"].items():
            typer.echo(
                f"registry {name}: model {model}: versions "
                + ", ".join(str(v["version"]) for v in versions)
            )


def register(app: typer.Typer) -> None:
    """Add ``ado`` to the ``mlops`` command."""
    ado_app.command("expand")(expand)
    ado_app.command("run")(run)
    ado_app.command("state")(state)
    app.add_typer(ado_app, name="ado")
