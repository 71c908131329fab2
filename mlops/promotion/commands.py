"""``mlops promote``, ``rollback``, ``models`` and ``release ...``: PR-gated promotion."""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from taxi_fare.step_files import write_stage_report

from mlops import aml_client, settings
from mlops.endpoints.local_deploy import LocalDeployer
from mlops.errors import MlopsError
from mlops.promotion import azure_release, inventory, stage_tests
from mlops.promotion import promote as promotion
from mlops.promotion.deploy import HttpEndpoint
from mlops.registry import history, local_registry, releases
from mlops.settings import REPO_ROOT

release_app = typer.Typer(
    no_args_is_help=True,
    help="Release files and the Azure side of promotion (share, stage tests, prod check).",
)

ReleasesDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--releases-dir",
        envvar="MLOPS_RELEASES_DIR",
        help="Folder holding stage.yml and prod.yml (default: mlops/releases).",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
AzureOpt = Annotated[
    bool,
    typer.Option(
        "--azure",
        help="Use the Azure ML registry the release file names (default: the local registry).",
    ),
]


def _stage_data_default() -> Path:
    return settings.store_dir("stage") / "stage-data"


def _training_split(version: int | None) -> list[Path]:
    """The train split of the local pipeline run that produced a dev version, if still there."""
    info = local_registry.dev_version(version)
    run_id = info.tags.get("pipeline_run_id")
    if not run_id:
        return []
    return sorted(p for p in (settings.runs_dir() / run_id).glob("*/train_data") if p.is_dir())


def _prepare_stage_data(
    raw_data: list[Path], exclude: list[Path] | None, version: int | None, target: Path
) -> None:
    # pandas: only building a stage set needs it, not the other promotion commands.
    from taxi_fare.split import write_split
    from taxi_fare.stage import build_stage_set

    excluded = exclude if exclude is not None else _training_split(version)
    stage = build_stage_set(raw_data, excluded)
    # Write beside the target and swap, so a reader never sees half a stage set.
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".stage-data-", dir=target.parent))
    try:
        write_split(stage.table, staging / "new")
        write_stage_report(stage.report(), staging / "new")
        if target.exists():
            target.rename(staging / "old")
        (staging / "new").rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    typer.echo(
        f"stage test set: {len(stage.table)} rows in {target} "
        f"({stage.excluded} training rows excluded)"
    )


def promote(
    to: Annotated[str, typer.Option("--to", help="stage or prod.")],
    version: Annotated[
        int | None,
        typer.Option(help="Version to promote (default: dev champion; for prod: stage's)."),
    ] = None,
    stage_data: Annotated[
        Path | None,
        typer.Option(
            help="Stage test set made by stageprep.py (default: $MLOPS_HOME/stage/stage-data)."
        ),
    ] = None,
    raw_data: Annotated[
        list[Path] | None,
        typer.Option(help="Raw trips to build the stage test set from first (stageprep logic)."),
    ] = None,
    exclude_data: Annotated[
        list[Path] | None,
        typer.Option(
            help="Training split(s) to keep out of the stage set (default: the "
            "train_data of the version's local pipeline run)."
        ),
    ] = None,
    releases_dir: ReleasesDirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Promote a model version to stage (share, deploy, stage tests) or prod (stage-passed only)."""
    data = stage_data or _stage_data_default()
    if to == "stage" and raw_data:
        _prepare_stage_data(raw_data, exclude_data, version, data)
    result = promotion.promote(
        to, version, LocalDeployer(), stage_data=data, releases_dir=releases_dir
    )
    if as_json:
        typer.echo(json.dumps(asdict(result), indent=2))
        return
    was = "nothing" if result.previous is None else f"version {result.previous}"
    typer.echo(f"{result.env} now runs version {result.version} (was {was}); {result.release_file}")


def rollback(
    env: Annotated[str, typer.Option("--env", help="stage or prod.")],
    releases_dir: ReleasesDirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Return an environment to its previous release (from the release history)."""
    result = promotion.rollback(env, LocalDeployer(), releases_dir)
    if as_json:
        typer.echo(json.dumps(asdict(result), indent=2))
        return
    typer.echo(
        f"{result.env} rolled back: left version {result.left}, restored version "
        f"{result.restored}; {result.release_file}"
    )


def models(
    env: Annotated[str, typer.Option("--env", help="dev, stage or prod.")] = "dev",
    releases_dir: ReleasesDirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Versions with metrics and lineage tags; which is champion, released and deployed."""
    view = inventory.models_view(env, settings.MODEL_NAME, releases_dir)
    typer.echo(json.dumps(view, indent=2) if as_json else inventory.render_table(view))


def _registry(azure: bool, registry_name: str):
    if azure:
        return (
            azure_release.AzureRegistry(azure_release.registry_client(registry_name)),
            f"Azure ML registry {registry_name}",
        )
    return azure_release.LocalRegistryStore(), "the local registry store"


def check(
    env: Annotated[str, typer.Option("--env", help="stage or prod.")],
    azure: AzureOpt = False,
    releases_dir: ReleasesDirOpt = None,
    before_merge: Annotated[
        bool,
        typer.Option(
            "--before-merge",
            help="Pull-request check: stage against the dev workspace (the registry gets the "
            "version only after the merge), prod against the registry. Needs --azure.",
        ),
    ] = False,
    dev_subscription_id: Annotated[
        str | None, typer.Option(help="Dev workspace subscription (stage --before-merge).")
    ] = None,
    dev_resource_group: Annotated[
        str | None, typer.Option(help="Dev workspace resource group (stage --before-merge).")
    ] = None,
    dev_workspace: Annotated[
        str | None, typer.Option(help="Dev workspace name (stage --before-merge).")
    ] = None,
    environment_spec: Annotated[
        Path | None,
        typer.Option(help="Scoring environment spec the merge registers (its version: key)."),
    ] = None,
) -> None:
    """Check a release file: valid, names a version the registry holds; prod: stage-passed
    with the pins stage tested. On Azure the release must pin environment and code."""
    release = releases.load_release(env, releases_dir)
    path = releases.release_path(env, releases_dir)
    if before_merge and not azure:
        raise MlopsError(
            "--before-merge checks the Azure ML dev workspace or registry: add --azure"
        )
    try:
        if before_merge and env == "stage":
            ref = aml_client.WorkspaceRef.resolve(
                dev_subscription_id, dev_resource_group, dev_workspace
            )
            where = f"dev workspace {ref.workspace}"
            # The spec of the environment the release pins (score or AutoML runtime).
            pinned = release.environment.name if release.environment else None
            spec = environment_spec or (
                releases.environment_spec(pinned)
                if pinned
                else azure_release.SCORE_ENVIRONMENT_SPEC
            )
            name, version = azure_release.spec_environment(spec)
            if release.environment is not None and release.environment.name != name:
                raise MlopsError(
                    f"the stage release pins environment {release.environment.name}, "
                    f"but {spec} defines {name}"
                )
            workspace = azure_release.AzureWorkspace(aml_client.ml_client(ref))
            azure_release.check_stage_before_merge(release, workspace, where, version, REPO_ROOT)
        else:
            registry, where = _registry(azure, release.model.registry)
            azure_release.check_release(release, registry, where, require_pins=azure)
    except MlopsError as exc:
        raise MlopsError(f"{path}: {exc}") from None
    typer.echo(f"{path}: version {release.model.version} of {release.model.name} in {where}: ok")


def share(
    version: Annotated[int, typer.Option(help="Workspace (dev) model version to share.")],
    name: Annotated[str, typer.Option(help="Model name.")] = "taxi-fare",
    registry_name: Annotated[
        str | None, typer.Option("--registry", help="Registry (default: stage.yml's registry).")
    ] = None,
    subscription_id: Annotated[
        str | None, typer.Option(envvar="AML_SUBSCRIPTION_ID", show_envvar=True)
    ] = None,
    resource_group: Annotated[
        str | None, typer.Option(envvar="AML_RESOURCE_GROUP", show_envvar=True)
    ] = None,
    workspace: Annotated[str | None, typer.Option(envvar="AML_WORKSPACE", show_envvar=True)] = None,
    releases_dir: ReleasesDirOpt = None,
) -> None:
    """Share a dev workspace model version into the Azure ML registry (same name and version)."""
    target = registry_name or releases.load_release("stage", releases_dir).model.registry
    ref = aml_client.WorkspaceRef.resolve(subscription_id, resource_group, workspace)
    registry, _ = _registry(True, target)
    shared = azure_release.share(aml_client.ml_client(ref), registry, name, version, target)
    state = "shared into" if shared else "already in"
    typer.echo(f"version {version} of {name} {state} registry {target}")


def stage_test(
    url: Annotated[str, typer.Option(help="Scoring URL of the stage online endpoint.")],
    stage_data: Annotated[Path, typer.Option(help="Stage test set made by stageprep.py.")],
    output: Annotated[Path, typer.Option(help="Where to write the stage result JSON.")],
    key: Annotated[
        str | None, typer.Option(envvar="ENDPOINT_KEY", help="Endpoint key (env ENDPOINT_KEY).")
    ] = None,
    deployment: Annotated[
        str | None, typer.Option(help="Pin one deployment (colour) of the endpoint.")
    ] = None,
    azure: AzureOpt = False,
    releases_dir: ReleasesDirOpt = None,
) -> None:
    """Stage tests of stage.yml's version through an endpoint; result as JSON and registry tags."""
    release = releases.load_release("stage", releases_dir)
    registry, where = _registry(azure, release.model.registry)
    tags = azure_release.check_release(release, registry, where, require_pins=azure)
    assert release.model.version is not None  # check_release refuses a null version
    frame = stage_tests.read_stage_data(stage_data)
    result = stage_tests.run_stage_tests(
        HttpEndpoint(url, key, deployment),
        frame,
        release.model.version,
        tags,
        stage_tests.load_config(),
        release.rollout.latency_ms,
        history.now(),
    )
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result.to_dict(), indent=2) + "\n", encoding="utf-8")
    # The pins stage ran are recorded with the verdict: the prod check compares them.
    tags = {**result.tags(), **azure_release.pin_tags(release)}
    registry.set_tags(release.model.name, release.model.version, tags)
    verdict = "passed" if result.passed else "FAILED"
    typer.echo(f"stage tests {verdict} for version {result.version}: {result.reason} ({output})")
    if not result.passed:
        raise typer.Exit(1)


def record_stage(
    result_file: Annotated[Path, typer.Option("--result", help="Stage result JSON.")],
    name: Annotated[str, typer.Option(help="Model name.")] = "taxi-fare",
    azure: AzureOpt = False,
    releases_dir: ReleasesDirOpt = None,
) -> None:
    """Write a stage result JSON (from stage-test) as tags on its registry version."""
    try:
        result = json.loads(result_file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MlopsError(f"{result_file}: stage result not found") from None
    except json.JSONDecodeError as exc:
        raise MlopsError(f"{result_file}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
    if not isinstance(result, dict):
        raise MlopsError(f"{result_file}: expected a JSON object")
    registry_name = releases.load_release("stage", releases_dir).model.registry
    registry, where = _registry(azure, registry_name)
    try:
        tags = azure_release.record_stage_result(registry, name, result, where)
    except MlopsError as exc:
        raise MlopsError(f"{result_file}: {exc}") from None
    typer.echo(f"recorded stage_passed={tags['stage_passed']} on version {result['version']}")


def register(app: typer.Typer) -> None:
    app.command("promote")(promote)
    app.command("rollback")(rollback)
    app.command("models")(models)
    release_app.command("check")(check)
    release_app.command("share")(share)
    release_app.command("stage-test")(stage_test)
    release_app.command("record-stage")(record_stage)
    app.add_typer(release_app, name="release")
