"""What each store holds and what each environment runs: the data behind ``mlops models``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from taxi_fare.metrics import METRIC_NAMES

from mlops import settings
from mlops.errors import MlopsError
from mlops.registry import history, local_registry, releases
from mlops.registry.local_registry import ModelVersionInfo

LINEAGE_TAGS = ("git_commit", "data_fingerprint", "pipeline_run_id", "trainer")


def environment_state(
    name: str = settings.MODEL_NAME, releases_dir: Path | None = None
) -> dict[str, dict[str, int | None]]:
    """Per release environment: the version its release file names and the one it runs."""
    state: dict[str, dict[str, int | None]] = {}
    for env in releases.RELEASE_ENVIRONMENTS:
        release = releases.load_release(env, releases_dir)
        if release.model.name != name:
            raise MlopsError(
                f"{releases.release_path(env, releases_dir)}: key 'model.name': "
                f"names {release.model.name!r}, expected {name!r}"
            )
        state[env] = {"released": release.model.version, "running": history.current_version(env)}
    return state


def models_view(
    env: str, name: str = settings.MODEL_NAME, releases_dir: Path | None = None
) -> dict[str, Any]:
    """Versions of ``env``'s store with tags, metrics, lineage, champion and where each runs.

    dev lists the dev store (its champion is the highest version, which ``mlops serve``
    deploys); stage and prod list the shared registry, which both deploy from.
    """
    if env not in settings.ENVIRONMENTS:
        raise MlopsError(f"unknown environment {env!r}: expected one of dev, stage, prod")
    state = environment_state(name, releases_dir)
    if env == "dev":
        versions = local_registry.dev_versions(name)
        store = "dev"
    else:
        versions = local_registry.registry_versions(name)
        store = settings.REGISTRY
    dev_champion = _dev_champion(name)
    rows = [_row(info, state, dev_champion) for info in versions]
    view: dict[str, Any] = {
        "env": env,
        "model": name,
        "store": store,
        "tracking_uri": settings.tracking_uri(store),
        "champion": dev_champion,
        "versions": rows,
    }
    if env == "dev":
        view["deployed"] = dev_champion  # the dev endpoint serves the champion
    else:
        view["released"] = state[env]["released"]
        view["deployed"] = state[env]["running"]
    return view


def _dev_champion(name: str) -> int | None:
    versions = local_registry.dev_versions(name)
    return versions[-1].version if versions else None


def _row(
    info: ModelVersionInfo, state: dict[str, dict[str, int | None]], champion: int | None
) -> dict[str, Any]:
    metrics = {}
    for metric in METRIC_NAMES:
        try:
            metrics[metric] = float(info.tags[metric])
        except (KeyError, ValueError):
            continue
    return {
        "version": info.version,
        "store_version": info.store_version,
        "run_id": info.run_id,
        "champion": info.version == champion,
        "stage_passed": info.stage_passed,
        "released_in": [e for e, s in state.items() if s["released"] == info.version],
        "deployed_in": [e for e, s in state.items() if s["running"] == info.version],
        "metrics": metrics,
        "lineage": {k: info.tags[k] for k in LINEAGE_TAGS if k in info.tags},
        "tags": dict(sorted(info.tags.items())),
    }


def render_table(view: dict[str, Any]) -> str:
    """Plain-text table for humans (``--json`` gives everything)."""
    header = f"{view['model']} in {view['env']} (store {view['store']})"
    if not view["versions"]:
        return header + ": no versions"
    lines = [header, "version  champion  stage_passed  released_in  deployed_in  rmse     trainer"]
    for row in view["versions"]:
        rmse = row["metrics"].get("root_mean_squared_error")
        lines.append(
            f"{row['version']:<8} {'yes' if row['champion'] else '':<9} "
            f"{'yes' if row['stage_passed'] else '':<13} "
            f"{','.join(row['released_in']) or '-':<12} {','.join(row['deployed_in']) or '-':<12} "
            f"{'-' if rmse is None else f'{rmse:.4g}':<8} {row['lineage'].get('trainer', '-')}"
        )
    return "\n".join(lines)
