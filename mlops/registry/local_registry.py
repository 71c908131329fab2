"""The local registries: the dev MLflow store and the shared store that plays the Azure ML one.

Version numbers are always the *dev* version numbers: on Azure, ``models.share``
keeps the version (``share_with_version``); locally, the registry store assigns its
own sequence, so each registry entry carries ``source_version`` and is looked up by
it. Promotion copies artifacts and tags; it never retrains.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from taxi_fare.store import ensure_experiment, open_store

from mlops import settings
from mlops.errors import MlopsError

if TYPE_CHECKING:
    from mlflow import MlflowClient

log = logging.getLogger(__name__)

PROMOTION_EXPERIMENT = "promotions"
SOURCE_ENV_TAG = "source_env"
SOURCE_VERSION_TAG = "source_version"
SOURCE_RUN_TAG = "source_run_id"
STAGE_PASSED_TAG = "stage_passed"


@dataclass(frozen=True)
class ModelVersionInfo:
    """One registered version: ``version`` is the dev version number, tags as stored."""

    name: str
    version: int
    tags: dict[str, str] = field(default_factory=dict)
    store: str = "dev"
    store_version: int = 0  # the number inside ``store`` (differs from ``version`` in the registry)
    run_id: str | None = None

    @property
    def model_uri(self) -> str:
        """``models:/`` URI inside ``store`` (use with ``settings.tracking_uri(store)``)."""
        return f"models:/{self.name}/{self.store_version}"

    @property
    def stage_passed(self) -> bool:
        return self.tags.get(STAGE_PASSED_TAG) == "true"


def client(store: str) -> MlflowClient:
    """MLflow client for one local store (tracking and registry in the same sqlite file)."""
    from mlflow import MlflowClient

    settings.store_dir(store).mkdir(parents=True, exist_ok=True)
    uri = settings.tracking_uri(store)
    open_store(uri)  # one creator at a time; a damaged store is refused, never repaired
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def _versions(store: str, name: str) -> list[ModelVersionInfo]:
    found = client(store).search_model_versions(f"name = '{name}'")
    result = []
    for mv in found:
        tags = dict(mv.tags)
        number = int(mv.version)
        if store == settings.REGISTRY:
            if SOURCE_VERSION_TAG not in tags:
                continue  # not put there by promotion; not addressable by dev version
            version = int(tags[SOURCE_VERSION_TAG])
        else:
            version = number
        result.append(
            ModelVersionInfo(name, version, tags, store, store_version=number, run_id=mv.run_id)
        )
    return sorted(result, key=lambda v: v.version)


def dev_versions(name: str = settings.MODEL_NAME) -> list[ModelVersionInfo]:
    """All versions registered in dev, oldest first."""
    return _versions("dev", name)


def registry_versions(name: str = settings.MODEL_NAME) -> list[ModelVersionInfo]:
    """All versions shared into the registry store, by dev version number."""
    return _versions(settings.REGISTRY, name)


def dev_version(version: int | None, name: str = settings.MODEL_NAME) -> ModelVersionInfo:
    """A dev version, or the dev champion (highest version) when ``version`` is None."""
    versions = dev_versions(name)
    if not versions:
        raise MlopsError(
            f"no version of {name} is registered in dev ({settings.tracking_uri('dev')}); "
            "run `mlops train` first"
        )
    if version is None:
        return versions[-1]
    for info in versions:
        if info.version == version:
            return info
    known = ", ".join(str(v.version) for v in versions)
    raise MlopsError(f"version {version} of {name} does not exist in dev (versions: {known})")


def registry_version(version: int, name: str = settings.MODEL_NAME) -> ModelVersionInfo | None:
    """The registry entry copied from dev version ``version``, if any."""
    for info in registry_versions(name):
        if info.version == version:
            return info
    return None


@contextmanager
def downloaded(info: ModelVersionInfo) -> Iterator[Path]:
    """The model's artifact folder in a temp dir; a missing artifact is a clear error."""
    from mlflow.artifacts import download_artifacts

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    mlflow_client = client(info.store)
    uri = mlflow_client.get_model_version_download_uri(info.name, str(info.store_version))
    where = f"{info.store} version {info.store_version} of {info.name}"
    with tempfile.TemporaryDirectory(prefix="mlops-model-") as tmp:
        try:
            local = Path(
                download_artifacts(
                    artifact_uri=uri, dst_path=tmp, tracking_uri=settings.tracking_uri(info.store)
                )
            )
        except Exception as exc:  # mlflow raises OSError or MlflowException for missing files
            raise MlopsError(f"{where}: model artifact missing at {uri} ({exc})") from None
        if not (local / "MLmodel").is_file():
            raise MlopsError(f"{where}: model artifact missing at {uri} (no MLmodel file)")
        yield local


def check_artifact(info: ModelVersionInfo) -> None:
    """Raise MlopsError unless the version's model artifact is present and complete."""
    with downloaded(info):
        pass


def copy_to_registry(info: ModelVersionInfo) -> ModelVersionInfo:
    """Copy a dev version (artifacts + lineage tags) into the registry store; idempotent."""
    existing = registry_version(info.version, info.name)
    if existing is not None:
        check_artifact(existing)
        log.info("version %s of %s is already in the registry", info.version, info.name)
        return existing
    lineage = {
        **info.tags,
        SOURCE_ENV_TAG: info.store,
        SOURCE_VERSION_TAG: str(info.version),
        SOURCE_RUN_TAG: info.run_id or "",
    }
    lineage.pop(STAGE_PASSED_TAG, None)  # a stage pass is earned in the registry, not copied

    reg = client(settings.REGISTRY)
    with downloaded(info) as local:  # fails before anything is written to the registry
        experiment_id = ensure_experiment(
            reg,
            settings.tracking_uri(settings.REGISTRY),
            PROMOTION_EXPERIMENT,
            settings.artifact_root(settings.REGISTRY),
        )
        run = reg.create_run(experiment_id, run_name=f"share-{info.name}-{info.version}")
        try:
            reg.log_artifacts(run.info.run_id, str(local), "model")
        except Exception:
            reg.set_terminated(run.info.run_id, "FAILED")
            raise
        reg.set_terminated(run.info.run_id, "FINISHED")
    try:
        reg.get_registered_model(info.name)
    except Exception:
        reg.create_registered_model(info.name)
    mv = reg.create_model_version(
        info.name, f"{run.info.artifact_uri}/model", run_id=run.info.run_id, tags=lineage
    )
    log.info(
        "shared dev version %s of %s into the registry (registry entry %s)",
        info.version,
        info.name,
        mv.version,
    )
    return ModelVersionInfo(
        info.name, info.version, lineage, settings.REGISTRY, int(mv.version), run.info.run_id
    )


def set_registry_tags(info: ModelVersionInfo, tags: dict[str, str]) -> ModelVersionInfo:
    """Write tags on a registry entry and return it refreshed."""
    reg = client(settings.REGISTRY)
    for key, value in tags.items():
        reg.set_model_version_tag(info.name, str(info.store_version), key, value)
    return ModelVersionInfo(
        info.name, info.version, {**info.tags, **tags}, info.store, info.store_version, info.run_id
    )
