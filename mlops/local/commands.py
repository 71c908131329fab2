"""``mlops train`` / ``mlops run``: run pipeline job YAML locally (the local twin);
``mlops data create|list``: local data assets."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated

import typer
import yaml

from mlops import settings
from mlops.errors import MlopsError
from mlops.local.data import create, list_assets
from mlops.local.pipeline import load_pipeline
from mlops.local.runner import run_pipeline
from mlops.local.summary import build_summary

# mlops.local.display stays inside train and run: it loads rich (the live step display),
# which `mlops data ...` does not draw.

PIPELINES = {"automl": "pipeline-automl.yml", "rf": "pipeline.yml"}


def _parse_set(items: list[str]) -> dict[str, object]:
    values: dict[str, object] = {}
    for item in items:
        name, sep, raw = item.partition("=")
        if not sep or not name:
            raise MlopsError(f"--set {item!r}: expected NAME=VALUE")
        values[name.strip()] = yaml.safe_load(raw) if raw else ""
    return values


def train(
    data: Annotated[
        list[Path] | None,
        typer.Option(
            "--data", help="Raw TLC CSVs or a feature table: files or folders, repeatable."
        ),
    ] = None,
    trainer: Annotated[
        str, typer.Option(help="automl (pipeline-automl.yml) or rf (pipeline.yml).")
    ] = "automl",
    time_budget: Annotated[
        int | None,
        typer.Option(
            "--time-budget", min=1, help="Seconds for AutoML; overrides the node's timeout."
        ),
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Sets the pipeline input 'seed'.")] = None,
    env: Annotated[str, typer.Option(help="MLflow store to track and register in.")] = "dev",
    summary_json: Annotated[
        Path | None, typer.Option("--summary-json", help="Write the run summary here.")
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Override a pipeline input: NAME=VALUE, repeatable."),
    ] = None,
    pipeline: Annotated[
        Path | None,
        typer.Option(help="Run this pipeline YAML instead of the trainer's own."),
    ] = None,
    no_reuse: Annotated[
        bool, typer.Option("--no-reuse", help="Rerun every step, even unchanged ones.")
    ] = False,
) -> None:
    """Run the training pipeline YAML on this machine: prep, train, evaluate, register."""
    from mlops.local.display import RichDisplay

    if trainer not in PIPELINES:
        raise MlopsError(f"--trainer {trainer!r}: expected one of {', '.join(PIPELINES)}")
    settings.store_dir(env)  # rejects an unknown environment before anything runs
    path = pipeline or settings.REPO_ROOT / "mlops" / "azureml" / "train" / PIPELINES[trainer]
    overrides = _parse_set(set_ or [])
    if seed is not None:
        overrides["seed"] = seed
    loaded = load_pipeline(path, time_budget=time_budget, overrides=overrides)
    if time_budget is not None and not any(step.automl for step in loaded.steps):
        logging.getLogger(__name__).warning(
            "%s has no AutoML node: --time-budget does not apply", path.name
        )

    display = RichDisplay()
    try:
        result = run_pipeline(
            loaded, env=env, overrides=overrides, data=data, display=display, reuse=not no_reuse
        )
    except KeyboardInterrupt:
        # The step subprocess got the same Ctrl-C; the runner has marked it and the MLflow
        # runs failed, and its logs stay in the run folder.
        raise typer.Abort() from None
    finally:
        display.close()
    display.table(result.steps)
    summary = build_summary(result, trainer=trainer, env=env)
    if summary_json is not None:
        summary_json.parent.mkdir(parents=True, exist_ok=True)
        summary_json.write_text(json.dumps(summary, indent=2) + "\n")

    # soft_wrap: paths and commands stay on one line, so they can be copied.
    def say(text: str) -> None:
        display.console.print(text, soft_wrap=True, highlight=False, markup=False)

    say(f"run {result.run_id}: logs and outputs in {result.run_dir}")
    if summary_json is not None:
        say(f"summary: {summary_json}")
    failed = result.failed
    if failed is not None:
        raise MlopsError(f"step '{failed.name}' failed: {failed.cause} (log: {failed.log})")
    if summary["gate"] is not None:
        verdict = "promote" if summary["gate"]["promote"] else "no promotion"
        say(f"gate: {verdict}: {summary['gate']['reason']}")
    model = summary["model"]
    if model is not None and model["registered"]:
        say(f"registered {model['name']} version {model['version']} in {env}")
    elif model is not None:
        say(f"not registered: {model['reason']}")
    if summary["report"]:
        say(f"report: {summary['report']}")
    say(f"MLflow UI: {summary['mlflow_ui']}")


def run(
    file: Annotated[Path, typer.Argument(help="An Azure ML pipeline job YAML.")],
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Override a pipeline input: NAME=VALUE, repeatable."),
    ] = None,
    env: Annotated[str, typer.Option(help="MLflow store to track in.")] = "dev",
    no_reuse: Annotated[
        bool, typer.Option("--no-reuse", help="Rerun every step, even unchanged ones.")
    ] = False,
    json_output: Annotated[
        Path | None, typer.Option("--json", help="Write step states and outputs here (JSON).")
    ] = None,
) -> None:
    """Run any Azure ML pipeline job YAML on this machine, as `az ml job create` would."""
    from mlops.local.display import RichDisplay

    settings.store_dir(env)
    display = RichDisplay()
    try:
        result = run_pipeline(
            file, env=env, overrides=_parse_set(set_ or []), display=display, reuse=not no_reuse
        )
    except KeyboardInterrupt:
        raise typer.Abort() from None
    finally:
        display.close()
    display.table(result.steps)
    if json_output is not None:
        payload = {
            "run_id": result.run_id,
            "run_dir": str(result.run_dir),
            "status": "failed" if result.failed else "succeeded",
            "steps": [
                {"name": s.name, "state": s.state, "cause": s.cause, "log": str(s.log)}
                for s in result.steps
            ],
            "outputs": {k: str(v) for k, v in result.pipeline_outputs.items()},
        }
        json_output.parent.mkdir(parents=True, exist_ok=True)
        json_output.write_text(json.dumps(payload, indent=2) + "\n")
    display.console.print(
        f"run {result.run_id}: logs and outputs in {result.run_dir}",
        soft_wrap=True,
        highlight=False,
        markup=False,
    )
    failed = result.failed
    if failed is not None:
        raise MlopsError(f"step '{failed.name}' failed: {failed.cause} (log: {failed.log})")


data_app = typer.Typer(no_args_is_help=True, help="Local data assets (like `az ml data`).")


@data_app.command("create")
def data_create(
    file: Annotated[Path, typer.Option("--file", "-f", help="A data asset spec YAML.")],
    name: Annotated[str | None, typer.Option(help="Overrides the spec's name.")] = None,
    version: Annotated[str | None, typer.Option(help="Overrides the spec's version.")] = None,
) -> None:
    """Register a local file or folder as a new data asset version (a snapshot)."""
    asset = create(file, name=name, version=version)
    typer.echo(f"created data asset {asset.name} version {asset.version}: {asset.path}")


@data_app.command("list")
def data_list(
    name: Annotated[str | None, typer.Option(help="Only versions of this asset.")] = None,
) -> None:
    """Registered data asset versions: name, version, type, path."""
    for asset in list_assets(name):
        typer.echo(f"{asset.name}\t{asset.version}\t{asset.type}\t{asset.path}")


def register(app: typer.Typer) -> None:
    """Add ``train``, ``run`` and ``data`` to the ``mlops`` command."""
    app.command("train")(train)
    app.command("run")(run)
    app.add_typer(data_app, name="data")
