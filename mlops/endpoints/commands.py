"""`mlops serve`, `batch-score`, `smoke-test` and `rollout ...`: local and Azure endpoints."""

from __future__ import annotations

import json
import os
import signal
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer

from mlops import aml_client, settings
from mlops.endpoints import batch
from mlops.endpoints.azure_rollout import DEPLOYMENT_SPEC, AzureEndpoint
from mlops.endpoints.local_endpoint import LocalEndpoint
from mlops.endpoints.local_server import LocalServer
from mlops.endpoints.rollout import Outcome, parse_traffic, plan_rollout, run_rollout
from mlops.endpoints.smoke import DEFAULT_SAMPLES, smoke_test
from mlops.errors import MlopsError
from mlops.registry import model_source
from mlops.registry.pins import deploy_pins, export_code
from mlops.registry.releases import load_release, load_release_file, release_path
from mlops.settings import REPO_ROOT

rollout_app = typer.Typer(
    no_args_is_help=True,
    help="Blue/green rollout of an online endpoint: plan, run on Azure, or run locally.",
)

EnvOpt = Annotated[str, typer.Option("--env", help="Environment: dev, stage or prod.")]
VersionOpt = Annotated[
    int | None,
    typer.Option(
        "--version",
        help="Model version (dev numbering). Default: dev's champion, or the release's version.",
    ),
]
ModelDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--model-dir", help="Serve this MLflow model folder instead of a registry version."
    ),
]


def _model_dir(env: str, version: int | None, model_dir: Path | None) -> tuple[Path, str]:
    """The model folder to serve and a one-line description of it."""
    if model_dir is not None:
        if not (model_dir / "MLmodel").is_file() and not any(model_dir.rglob("MLmodel")):
            raise MlopsError(f"{model_dir}: no MLflow model (MLmodel file) found")
        return model_dir, f"model folder {model_dir}"
    model = model_source.served_model(env, version)
    return model.path, f"{model.name} version {model.version} ({env}, from the {model.store} store)"


def serve(
    env: EnvOpt = "dev",
    version: VersionOpt = None,
    port: Annotated[int, typer.Option("--port", help="Port on 127.0.0.1.")] = 5001,
    model_dir: ModelDirOpt = None,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Server workers.")] = 1,
) -> None:
    """Serve a model with the Azure ML inference server and score.py on 127.0.0.1."""
    path, what = _model_dir(env, version, model_dir)
    server = LocalServer(path, port=port, workers=workers, env=settings.collection_env(env))
    # The server runs in its own session, so a TERM sent to this process alone (a
    # supervisor, `kill`) would orphan it: treat TERM like Ctrl-C and stop it.
    signal.signal(signal.SIGTERM, _interrupt)
    server.start()
    try:
        sample = DEFAULT_SAMPLES[0]
        shown = sample.relative_to(REPO_ROOT) if sample.is_relative_to(REPO_ROOT) else sample
        typer.echo(f"serving {what}")
        typer.echo(f"scoring URL: {server.score_url}")
        typer.echo(
            f"try: curl -s -X POST {server.score_url} -H 'Content-Type: application/json' "
            f"-d @{shown}"
        )
        typer.echo("press Ctrl-C to stop")
        code = server.wait()
        if code:
            raise typer.Exit(code)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def batch_score(
    input_dir: Annotated[Path, typer.Option("--input", help="Folder of files to score.")],
    output: Annotated[Path, typer.Option("--output", help="CSV to write: file,row,prediction.")],
    env: EnvOpt = "dev",
    version: VersionOpt = None,
    model_dir: ModelDirOpt = None,
    mini_batch_size: Annotated[
        int | None, typer.Option("--mini-batch-size", min=1, help="Files per mini-batch.")
    ] = None,
    error_threshold: Annotated[
        int | None,
        typer.Option("--error-threshold", min=-1, help="Failed files allowed; -1: any number."),
    ] = None,
    max_retries: Annotated[
        int | None, typer.Option("--max-retries", min=0, help="Retries of a failed mini-batch.")
    ] = None,
) -> None:
    """Score a folder with batch_score.py as an Azure ML batch deployment would.

    Defaults come from mlops/azureml/deploy/batch/batch-deployment.yml.
    """
    from rich.progress import Progress  # rich: only this command draws a progress bar

    spec = batch.spec_settings()
    spec = replace(
        spec,
        mini_batch_size=spec.mini_batch_size if mini_batch_size is None else mini_batch_size,
        error_threshold=spec.error_threshold if error_threshold is None else error_threshold,
        max_retries=spec.max_retries if max_retries is None else max_retries,
    )
    files = batch.input_files(input_dir)  # fail on an empty folder before loading a model
    path, what = _model_dir(env, version, model_dir)
    os.environ.update(settings.collection_env(env))  # batch_score.py collects (monitoring)
    typer.echo(f"scoring {len(files)} files with {what}")
    with Progress(transient=True) as progress:
        task = progress.add_task("scoring", total=len(files))
        report = batch.run_batch(input_dir, output, path, spec, lambda n: progress.advance(task, n))
    for name, reason in report.failed.items():
        typer.echo(f"failed: {name}: {reason}", err=True)
    if report.aborted:
        raise MlopsError(
            f"{len(report.failed)} of {report.files} files failed, more than the error "
            f"threshold of {spec.error_threshold}; no output written to {output}"
        )
    typer.echo(
        f"scored {report.rows} rows from {report.scored_files} of {report.files} files "
        f"into {output} ({len(report.failed)} failed)"
    )


def smoke_test_cmd(
    url: Annotated[str, typer.Option("--url", help="Scoring URL (…/score).")],
    key: Annotated[
        str | None,
        typer.Option("--key", envvar="ENDPOINT_KEY", show_envvar=True, help="Endpoint key."),
    ] = None,
    sample: Annotated[
        list[Path] | None,
        typer.Option("--sample", help="Request file(s); default: data/requests/*.json."),
    ] = None,
    latency_ms: Annotated[
        float, typer.Option("--latency-ms", min=1, help="Budget for the median latency.")
    ] = 500.0,
    deployment: Annotated[
        str | None,
        typer.Option("--deployment", help="Test one deployment (azureml-model-deployment)."),
    ] = None,
) -> None:
    """Send sample requests and check status, shape, sane predictions and latency."""
    result = smoke_test(url, key=key, samples=sample, latency_ms=latency_ms, deployment=deployment)
    typer.echo(result.verdict())
    if not result.ok:
        raise typer.Exit(1)


def _steps(release: Path | None, steps: str | None) -> tuple[list[int], int]:
    """Traffic steps and latency budget: ``--steps`` wins over the release file's."""
    latency = 500
    parsed: list[int] | None = None
    if release is not None:
        rel = load_release_file(release)
        parsed, latency = list(rel.rollout.steps), rel.rollout.latency_ms
    if steps is not None:
        try:
            parsed = [int(s) for s in steps.split(",") if s.strip()]
        except ValueError:
            raise MlopsError(f"--steps {steps!r}: expected percentages like 10,50,100") from None
    if parsed is None:
        raise MlopsError("give --release FILE or --steps 10,50,100")
    return parsed, latency


def rollout_plan(
    traffic: Annotated[
        str, typer.Option("--traffic", help="Current traffic: '{\"blue\": 100}' or blue=100.")
    ],
    release: Annotated[
        Path | None, typer.Option("--release", help="Release file giving the steps.")
    ] = None,
    steps: Annotated[str | None, typer.Option("--steps", help="e.g. 10,50,100")] = None,
) -> None:
    """Print the rollout plan as JSON: live colour, target colour, traffic per step."""
    parsed, _ = _steps(release, steps)
    typer.echo(json.dumps(plan_rollout(parse_traffic(traffic), parsed).to_dict()))


def _report(outcome: object, result_json: Path | None) -> None:
    assert isinstance(outcome, Outcome)
    typer.echo(outcome.verdict())  # the steps were logged as they happened
    if result_json is not None:
        result_json.parent.mkdir(parents=True, exist_ok=True)
        result_json.write_text(
            json.dumps(
                {
                    "ok": outcome.ok,
                    "reason": outcome.reason,
                    "traffic": outcome.traffic,
                    "plan": outcome.plan.to_dict(),
                    "log": outcome.log,
                },
                indent=2,
            ),
            encoding="utf-8",
        )
    if not outcome.ok:
        raise typer.Exit(1)


ResultOpt = Annotated[
    Path | None, typer.Option("--result-json", help="Also write the outcome as JSON here.")
]


def rollout_azure(
    endpoint: Annotated[str, typer.Option("--endpoint", help="Online endpoint name.")],
    release: Annotated[
        Path, typer.Option("--release", help="Release file: model version, steps, latency.")
    ],
    spec: Annotated[
        Path | None, typer.Option("--deployment-spec", help="Online deployment YAML.")
    ] = None,
    steps: Annotated[str | None, typer.Option("--steps", help="Override, e.g. 10,50,100")] = None,
    instance_type: Annotated[
        str | None, typer.Option("--instance-type", help="Override the spec's VM size.")
    ] = None,
    instance_count: Annotated[
        int | None, typer.Option("--instance-count", min=1, help="Override the spec's count.")
    ] = None,
    subscription_id: Annotated[
        str | None, typer.Option("--subscription-id", envvar="AML_SUBSCRIPTION_ID")
    ] = None,
    resource_group: Annotated[
        str | None, typer.Option("--resource-group", envvar="AML_RESOURCE_GROUP")
    ] = None,
    workspace: Annotated[str | None, typer.Option("--workspace", envvar="AML_WORKSPACE")] = None,
    result_json: ResultOpt = None,
    repo: Annotated[
        Path | None, typer.Option("--repo", help="Git clone the pinned code is exported from.")
    ] = None,
) -> None:
    """Blue/green rollout of the release's pins (model, scoring environment, code commit)
    on an Azure ML online endpoint."""
    parsed, latency = _steps(release, steps)
    pins = deploy_pins(load_release_file(release))
    ref = aml_client.WorkspaceRef.resolve(subscription_id, resource_group, workspace)
    with tempfile.TemporaryDirectory(prefix="release-code-") as scratch:
        code = export_code(repo or REPO_ROOT, pins.commit, Path(scratch) / "code")
        executor = AzureEndpoint(
            aml_client.ml_client(ref),
            endpoint,
            pins.model_uri,
            spec or DEPLOYMENT_SPEC,
            latency_ms=latency,
            instance_type=instance_type,
            instance_count=instance_count,
            environment=pins.environment_uri,
            code=code,
        )
        outcome = run_rollout(executor, parsed)
        if not outcome.ok and outcome.plan.live is None:
            # A failed first deployment leaves nothing behind (else the next run fails closed).
            try:
                executor.discard(outcome.plan.target)
            except Exception as exc:  # the rollout's own failure is what to report
                outcome.log.append(
                    f"could not delete {outcome.plan.target}: {exc}; delete it by hand"
                )
    _report(outcome, result_json)


def rollout_local(
    env: Annotated[str, typer.Option("--env", help="stage or prod (its release file).")] = "prod",
    version: Annotated[
        int | None,
        typer.Option("--version", help="New version (registry store); default: dev champion."),
    ] = None,
    old_model_dir: Annotated[
        Path | None, typer.Option("--old-model-dir", help="Model the endpoint serves now.")
    ] = None,
    new_model_dir: Annotated[
        Path | None, typer.Option("--new-model-dir", help="Model to roll out.")
    ] = None,
    steps: Annotated[str | None, typer.Option("--steps", help="Override, e.g. 10,50,100")] = None,
    result_json: ResultOpt = None,
) -> None:
    """Rehearse a rollout on the local twin: the released version on blue, the new one on
    green, the release's steps and smoke tests, rollback on failure. Servers stop at the end."""
    if env not in ("stage", "prod"):
        raise MlopsError(f"rollout local --env {env!r}: expected stage or prod")
    parsed, latency = _steps(release_path(env), steps)
    current = load_release(env).model.version
    if old_model_dir is not None:
        old: Path | None = _model_dir(env, None, old_model_dir)[0]
    elif current is not None:
        old = _model_dir(env, current, None)[0]
    else:
        old = None
    if new_model_dir is not None:
        new = _model_dir(env, None, new_model_dir)[0]
    elif version is not None:
        new = _model_dir(env, version, None)[0]  # from the registry store, as Azure would
    else:
        new = _model_dir("dev", None, None)[0]
    log_dir = Path(tempfile.mkdtemp(prefix="rollout-", dir=_ensure(settings.mlops_home())))
    with LocalEndpoint(log_dir=log_dir, latency_ms=latency) as endpoint:
        if old is not None:
            endpoint.deploy_model("blue", old)
            endpoint.set_traffic({"blue": 100})
        endpoint.next_model = new
        outcome = run_rollout(endpoint, parsed)
    typer.echo(f"server logs: {log_dir}")
    _report(outcome, result_json)


def _ensure(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.command("batch-score")(batch_score)
    app.command("smoke-test")(smoke_test_cmd)
    rollout_app.command("plan")(rollout_plan)
    rollout_app.command("azure")(rollout_azure)
    rollout_app.command("local")(rollout_local)
    app.add_typer(rollout_app, name="rollout")
