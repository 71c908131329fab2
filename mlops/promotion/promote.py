"""Local promotion dev -> stage -> prod and rollback, through the registry store.

Every operation holds the promotion lock and checks everything it can *before*
changing state: the release file parses, the version exists, its artifact is
there, prod only takes a stage-passed version. The release file and the history
change last, only after the deployment (and for stage the stage tests) passed, so
the file always names what the environment runs. Those two writes go through the
promotion journal (``history.begin``/``finish``): a promotion killed between them is
completed by the next promotion or rollback before it does anything else.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops.errors import MlopsError
from mlops.promotion import stage_tests
from mlops.promotion.deploy import Deployer
from mlops.registry import history, local_registry, releases
from mlops.registry.local_registry import ModelVersionInfo

log = logging.getLogger(__name__)
STAGE_RESULT_FILE = "stage-result.json"


@dataclass(frozen=True)
class PromotionResult:
    env: str
    version: int
    previous: int | None
    changed: bool
    stage_result: dict[str, Any] | None = None
    release_file: str = ""


@dataclass(frozen=True)
class RollbackResult:
    env: str
    left: int
    restored: int
    release_file: str


def promote(
    to: str,
    version: int | None,
    deployer: Deployer,
    *,
    stage_data: Path | None = None,
    releases_dir: Path | None = None,
    stage_config: Path | None = None,
) -> PromotionResult:
    """Promote a version to ``to`` (stage or prod); see the module docstring for the order."""
    if to not in releases.RELEASE_ENVIRONMENTS:
        raise MlopsError(f"cannot promote to {to!r}: expected stage or prod")
    with history.promotion_lock():
        complete_pending(releases_dir)
        release = releases.load_release(to, releases_dir)
        if to == "stage":
            return _promote_stage(
                release, version, deployer, stage_data, releases_dir, stage_config
            )
        return _promote_prod(release, version, deployer, releases_dir)


def _promote_stage(
    release: releases.Release,
    version: int | None,
    deployer: Deployer,
    stage_data: Path | None,
    releases_dir: Path | None,
    stage_config: Path | None,
) -> PromotionResult:
    config = stage_tests.load_config(stage_config)
    name = release.model.name
    dev = local_registry.dev_version(version, name)
    if stage_data is None:
        raise MlopsError("promote --to stage needs stage test data (run stageprep.py first)")
    frame = stage_tests.read_stage_data(stage_data)
    local_registry.check_artifact(dev)  # a dev entry without its artifact changes nothing
    previous = history.current_version("stage")
    entry = local_registry.copy_to_registry(dev)
    with deployer.deploy("stage", entry, release.rollout) as endpoint:
        result = stage_tests.run_stage_tests(
            endpoint, frame, dev.version, dev.tags, config, release.rollout.latency_ms,
            history.now(),
        )  # fmt: skip
    local_registry.set_registry_tags(entry, result.tags())
    report = _write_stage_result(result.to_dict())
    if not result.passed:
        raise MlopsError(
            f"stage tests failed for version {dev.version}: {result.reason} "
            f"(stage still runs {_running(previous)}; result in {report})"
        )
    return _record(release, dev.version, previous, releases_dir, result.to_dict())


def _promote_prod(
    release: releases.Release,
    version: int | None,
    deployer: Deployer,
    releases_dir: Path | None,
) -> PromotionResult:
    name = release.model.name
    if version is None:
        version = releases.load_release("stage", releases_dir).model.version
        if version is None:
            raise MlopsError("nothing is released in stage yet; promote to stage first")
    entry = _stage_passed_entry(name, version)
    local_registry.check_artifact(entry)
    previous = history.current_version("prod")
    with deployer.deploy("prod", entry, release.rollout) as endpoint:
        smoke = endpoint.smoke_test(release.rollout.latency_ms)
    if not smoke.get("passed"):
        raise MlopsError(
            f"prod smoke test failed for version {version}: {smoke.get('message')} "
            f"(prod still runs {_running(previous)})"
        )
    return _record(release, version, previous, releases_dir, None)


def _stage_passed_entry(name: str, version: int) -> ModelVersionInfo:
    """The prod check: the registry holds the version and it carries a stage pass."""
    entry = local_registry.registry_version(version, name)
    if entry is None:
        raise MlopsError(
            f"version {version} of {name} is not in the registry; promote it to stage first"
        )
    if not entry.stage_passed:
        state = entry.tags.get(local_registry.STAGE_PASSED_TAG, "missing")
        raise MlopsError(
            f"version {version} of {name} has not passed stage "
            f"(tag {local_registry.STAGE_PASSED_TAG}={state}); refusing to release it to prod"
        )
    return entry


def _record(
    release: releases.Release,
    version: int,
    previous: int | None,
    releases_dir: Path | None,
    stage_result: dict[str, Any] | None,
) -> PromotionResult:
    env = release.env
    changed = previous != version or release.model.version != version
    entry = history.HistoryEntry("release", version, history.now()) if previous != version else None
    path = _apply(history.begin(env, version, entry), release, releases_dir)
    log.info("%s now runs version %s of %s (was %s)", env, version, release.model.name, previous)
    return PromotionResult(env, version, previous, changed, stage_result, str(path))


def rollback(env: str, deployer: Deployer, releases_dir: Path | None = None) -> RollbackResult:
    """Return ``env`` to its previous release from the history; redeploy and smoke-test it."""
    if env not in releases.RELEASE_ENVIRONMENTS:
        raise MlopsError(f"cannot roll back {env!r}: expected stage or prod")
    with history.promotion_lock():
        complete_pending(releases_dir)
        release = releases.load_release(env, releases_dir)
        stack = history.release_stack(history.read_history(env))
        if len(stack) < 2:
            running = f"only version {stack[0]} was released" if stack else "nothing was released"
            raise MlopsError(f"no previous release of {env} to roll back to ({running})")
        left, restored = stack[-1], stack[-2]
        entry = local_registry.registry_version(restored, release.model.name)
        if entry is None:
            raise MlopsError(f"version {restored} of {release.model.name} is not in the registry")
        local_registry.check_artifact(entry)
        with deployer.deploy(env, entry, release.rollout) as endpoint:
            smoke = endpoint.smoke_test(release.rollout.latency_ms)
        if not smoke.get("passed"):
            raise MlopsError(
                f"smoke test failed for version {restored}: {smoke.get('message')} "
                f"({env} still runs {left})"
            )
        entry = history.HistoryEntry("rollback", restored, history.now(), left=left)
        path = _apply(history.begin(env, restored, entry), release, releases_dir)
        log.info("%s rolled back: left version %s, restored version %s", env, left, restored)
        return RollbackResult(env, left, restored, str(path))


def _apply(journal: history.Journal, release: releases.Release, releases_dir: Path | None) -> Path:
    """Make the journal's two changes (release file, then history) and close the journal."""
    path = releases.write_release(release.with_version(journal.version), releases_dir)
    history.record(journal)
    history.finish(journal)
    return path


def complete_pending(releases_dir: Path | None = None) -> list[str]:
    """Finish any release a killed promotion left half-made; returns the envs completed.

    Only called under the promotion lock. The journal is written after the deployment
    (and stage tests) succeeded, so completing it rolls forward to what was deployed.
    """
    done = []
    for env in releases.RELEASE_ENVIRONMENTS:
        journal = history.pending(env)
        if journal is None:
            continue
        _apply(journal, releases.load_release(env, releases_dir), releases_dir)
        log.warning(
            "%s: completed a release interrupted earlier (version %s)", env, journal.version
        )
        done.append(env)
    return done


def _running(version: int | None) -> str:
    return "nothing" if version is None else f"version {version}"


def _write_stage_result(result: dict[str, Any]) -> Path:
    from mlops import settings

    path = settings.store_dir("stage") / STAGE_RESULT_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2), encoding="utf-8")
    return path
