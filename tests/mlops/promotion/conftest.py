"""Shared fixtures: one tiny dev store per session, a fresh registry/stage/prod per test."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.mlops.promotion import dev_store
from tests.mlops.promotion.promotion_support import FakeDeployer, Home


def _built_once(factory: pytest.TempPathFactory, name: str, build: Callable[[Path], None]) -> Path:
    """A folder built once per test run, shared by all xdist workers (they only read it)."""
    import shutil

    from filelock import FileLock

    base = factory.getbasetemp()
    root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    target = root / name
    with FileLock(str(root / f"{name}.lock")):
        if not (target / ".built").exists():
            shutil.rmtree(target, ignore_errors=True)
            target.mkdir()
            saved = os.environ.get("MLOPS_HOME")
            try:
                build(target)
            finally:
                if saved is None:
                    os.environ.pop("MLOPS_HOME", None)
                else:
                    os.environ["MLOPS_HOME"] = saved
            (target / ".built").touch()
    return target


def _empty_store(target: Path) -> None:
    os.environ["MLOPS_HOME"] = str(target)
    from mlops import settings
    from mlops.registry import local_registry

    local_registry.client(settings.REGISTRY).search_registered_models()


@pytest.fixture(scope="session")
def empty_registry_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An initialised, empty MLflow sqlite store: copying it is instant, creating one is not."""
    return (
        _built_once(tmp_path_factory, "promotion-empty-store", _empty_store)
        / "registry"
        / ("mlflow.db")
    )


@pytest.fixture(scope="session")
def dev_home(tmp_path_factory: pytest.TempPathFactory, empty_registry_db: Path) -> Path:
    """A home whose dev store holds taxi-fare v1 (optimistic tags), v2 and v3 (champion)."""
    import shutil

    def build(home: Path) -> None:
        (home / "dev").mkdir()
        shutil.copyfile(empty_registry_db, home / "dev" / "mlflow.db")
        dev_store.build(home)

    return _built_once(tmp_path_factory, "promotion-dev", build)


@pytest.fixture
def home(
    dev_home: Path, empty_registry_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Home:
    """Fresh $MLOPS_HOME sharing the session's dev store; empty release files in tmp."""
    import shutil

    from mlops.registry import releases

    root = tmp_path / "home"
    (root / "registry").mkdir(parents=True)
    shutil.copyfile(empty_registry_db, root / "registry" / "mlflow.db")
    (root / "dev").symlink_to(dev_home / "dev", target_is_directory=True)
    monkeypatch.setenv("MLOPS_HOME", str(root))
    rel = tmp_path / "releases"
    monkeypatch.setenv(releases.RELEASES_DIR_ENV, str(rel))
    for env in ("stage", "prod"):
        releases.write_release(
            releases.Release(
                env,
                releases.ModelRelease("taxi-fare", None, "mlr-taxifare-0001"),
                releases.RolloutSettings((10, 50, 100), 500),
            )
        )
    stage = tmp_path / "stage-data"
    stage.mkdir()
    dev_store.trips(200, 7).to_parquet(stage / "data.parquet")
    return Home(root, rel, stage)


@pytest.fixture
def deployer() -> FakeDeployer:
    return FakeDeployer()
