"""Which model a local endpoint serves, and a local copy of its files.

dev serves the dev champion (its highest registered version) unless ``--version`` says
otherwise; stage and prod serve the version their release file names, taken from the
shared registry store, as the Azure deployments take it from the Azure ML registry.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from mlops import settings
from mlops.errors import MlopsError
from mlops.registry import local_registry
from mlops.registry.releases import load_release

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServedModel:
    """A model version resolved for serving: where it came from and its local folder."""

    env: str
    name: str
    version: int
    store: str
    path: Path


def cache_dir() -> Path:
    """Local copies of served model versions: ``$MLOPS_HOME/endpoints/models``."""
    return settings.mlops_home() / "endpoints" / "models"


def resolve_version(env: str, version: int | None) -> int | None:
    """The version to serve: the argument, else dev's champion (None), else the release's."""
    if env not in settings.ENVIRONMENTS:
        raise MlopsError(f"unknown environment {env!r}: expected one of dev, stage, prod")
    if version is not None or env == "dev":
        return version
    release = load_release(env)
    if release.model.version is None:
        raise MlopsError(f"the {env} release file names no model version yet; run `mlops promote`")
    return release.model.version


def served_model(
    env: str, version: int | None = None, name: str = settings.MODEL_NAME
) -> ServedModel:
    """Resolve the version for ``env`` and make sure a local copy of its files exists."""
    wanted = resolve_version(env, version)
    if env == "dev":
        info = local_registry.dev_version(wanted, name)
    else:
        assert wanted is not None
        found = local_registry.registry_version(wanted, name)
        if found is None:
            raise MlopsError(
                f"version {wanted} of {name} is not in the registry store "
                f"({settings.tracking_uri(settings.REGISTRY)}); promote it first"
            )
        info = found
    target = cache_dir() / info.store / name / str(info.version)
    if not (target / "MLmodel").is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        with local_registry.downloaded(info) as files:
            # Copy next to the target, then rename: a cache entry is complete or absent.
            staging = Path(tempfile.mkdtemp(prefix=".incoming-", dir=target.parent))
            try:
                shutil.copytree(files, staging / "model")
                if target.exists():
                    shutil.rmtree(target)
                (staging / "model").rename(target)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
        logger.info("cached %s version %d from %s in %s", name, info.version, info.store, target)
    return ServedModel(env=env, name=name, version=info.version, store=info.store, path=target)
