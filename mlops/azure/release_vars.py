"""Expose a release file (``mlops/releases/<env>.yml``) to later pipeline steps as variables."""

from __future__ import annotations

from pathlib import Path

from mlops.errors import MlopsError


def release_variables(env: str, directory: Path | None = None) -> dict[str, str]:
    """MODEL_NAME, MODEL_VERSION, MODEL_REGISTRY, MODEL_URI, ROLLOUT_STEPS, LATENCY_MS.

    The release file is validated by the promotion area's loader; a release without a
    version is an error here, because a stage or prod run must deploy something.
    """
    from mlops.promotion.releases import load_release, release_path

    release = load_release(env, directory)
    if release.model.version is None:
        raise MlopsError(
            f"{release_path(env, directory)}: model.version is null; "
            f"set the version to release to {env} in a pull request"
        )
    return {
        "MODEL_NAME": release.model.name,
        "MODEL_VERSION": str(release.model.version),
        "MODEL_REGISTRY": release.model.registry,
        "MODEL_URI": release.model.azureml_uri(),
        "ROLLOUT_STEPS": " ".join(str(s) for s in release.rollout.steps),
        "LATENCY_MS": str(release.rollout.latency_ms),
    }
