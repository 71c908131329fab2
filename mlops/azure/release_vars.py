"""Expose a release file (``mlops/releases/<env>.yml``) to later pipeline steps as variables."""

from __future__ import annotations

from pathlib import Path

from mlops.errors import MlopsError
from mlops.registry.pins import deploy_pins
from mlops.registry.releases import load_release, release_path


def release_variables(env: str, directory: Path | None = None) -> dict[str, str]:
    """MODEL_NAME, MODEL_VERSION, MODEL_REGISTRY, MODEL_URI, ENVIRONMENT_URI, ENVIRONMENT_NAME,
    ENVIRONMENT_VERSION, CODE_COMMIT, ROLLOUT_STEPS, LATENCY_MS.

    The release file is validated by the promotion area's loader; a release without a
    version or without pins is an error here, because a stage or prod run must deploy
    exactly the pinned model, scoring environment and code.
    """
    release = load_release(env, directory)
    if release.model.version is None:
        raise MlopsError(
            f"{release_path(env, directory)}: model.version is null; "
            f"set the version to release to {env} in a pull request"
        )
    try:
        pins = deploy_pins(release)
    except MlopsError as exc:
        raise MlopsError(f"{release_path(env, directory)}: {exc}") from None
    return {
        "MODEL_NAME": release.model.name,
        "MODEL_VERSION": str(release.model.version),
        "MODEL_REGISTRY": release.model.registry,
        "MODEL_URI": pins.model_uri,
        "ENVIRONMENT_URI": pins.environment_uri,
        "ENVIRONMENT_NAME": str(release.environment.name if release.environment else ""),
        "ENVIRONMENT_VERSION": str(release.environment.version if release.environment else ""),
        "CODE_COMMIT": pins.commit,
        "ROLLOUT_STEPS": " ".join(str(s) for s in release.rollout.steps),
        "LATENCY_MS": str(release.rollout.latency_ms),
    }
