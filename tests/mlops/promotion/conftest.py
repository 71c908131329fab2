"""Shared fixtures: one tiny dev store per session, a fresh registry/stage/prod per test."""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import dev_store  # noqa: E402


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
    from mlops.promotion import local_registry

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


@dataclass
class Home:
    root: Path
    releases: Path
    stage_data: Path


@pytest.fixture
def home(
    dev_home: Path, empty_registry_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Home:
    """Fresh $MLOPS_HOME sharing the session's dev store; empty release files in tmp."""
    import shutil

    from mlops.promotion import releases

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
                releases.Rollout((10, 50, 100), 500),
            )
        )
    stage = tmp_path / "stage-data"
    stage.mkdir()
    dev_store.trips(200, 7).to_parquet(stage / "data.parquet")
    return Home(root, rel, stage)


class FakeEndpoint:
    """Scores in-process with the model files the registry entry points at."""

    def __init__(self, model_dir: Path, smoke_ok: bool) -> None:
        import mlflow.pyfunc

        self.url = f"file://{model_dir}"
        self.model = mlflow.pyfunc.load_model(str(model_dir))
        self.smoke_ok = smoke_ok

    def predict(self, features: Any) -> list[float]:
        return [float(v) for v in self.model.predict(features)]

    def smoke_test(self, latency_ms: int) -> dict[str, Any]:
        return {
            "passed": self.smoke_ok,
            "message": "fake smoke " + ("ok" if self.smoke_ok else "x"),
        }


@dataclass
class FakeDeployer:
    smoke_ok: bool = True
    deployed: list[tuple[str, int]] = field(default_factory=list)
    entered: threading.Event = field(default_factory=threading.Event)
    release: threading.Event | None = None  # when set, deploy waits for it (concurrency test)

    @contextlib.contextmanager
    def deploy(self, env: str, model: Any, rollout: Any) -> Iterator[FakeEndpoint]:
        from mlops.promotion import local_registry

        self.entered.set()
        if self.release is not None:
            self.release.wait(timeout=30)
        with local_registry.downloaded(model) as files:
            self.deployed.append((env, model.version))
            yield FakeEndpoint(files, self.smoke_ok)


@pytest.fixture
def deployer() -> FakeDeployer:
    return FakeDeployer()


def snapshot(home: Home) -> dict[str, Any]:
    """Everything a promotion may change: registry versions and tags, release files, history."""
    from mlops.promotion import local_registry

    files = {}
    for path in sorted([*home.releases.glob("*.yml"), *home.root.glob("*/release-history.jsonl")]):
        files[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    registry = [(v.version, v.store_version, sorted(v.tags.items())) for v in
                local_registry.registry_versions()]  # fmt: skip
    return {"files": files, "registry": registry}
