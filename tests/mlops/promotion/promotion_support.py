"""Test doubles and helpers for the promotion tests (a module name no other folder uses)."""

from __future__ import annotations

import contextlib
import hashlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Home:
    root: Path
    releases: Path
    stage_data: Path


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
        from mlops.registry import local_registry

        self.entered.set()
        if self.release is not None:
            self.release.wait(timeout=30)
        with local_registry.downloaded(model) as files:
            self.deployed.append((env, model.version))
            yield FakeEndpoint(files, self.smoke_ok)


def snapshot(home: Home) -> dict[str, Any]:
    """Everything a promotion may change: registry versions and tags, release files, history."""
    from mlops.registry import local_registry

    files = {}
    for path in sorted([*home.releases.glob("*.yml"), *home.root.glob("*/release-history.jsonl")]):
        files[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    registry = [(v.version, v.store_version, sorted(v.tags.items())) for v in
                local_registry.registry_versions()]  # fmt: skip
    return {"files": files, "registry": registry}
