"""The local twin's deployer: the Azure ML inference server on loopback, fed from the registry.

A local environment *runs* the version its release file names (``mlops serve --env
stage`` serves it). Promotion proves the version works there before recording it: it
starts the real inference server (``score.py``) with the registry copy of the model,
runs the smoke test and the stage tests against it, and stops the server again.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops import settings
from mlops.endpoints.local_server import LocalServer
from mlops.endpoints.scoring_client import score_over_http
from mlops.endpoints.smoke import smoke_test
from mlops.registry.model_source import served_model

if TYPE_CHECKING:
    import pandas as pd

    from mlops.registry.local_registry import ModelVersionInfo
    from mlops.registry.releases import RolloutSettings

log = logging.getLogger(__name__)


@dataclass
class LocalServerEndpoint:
    """A running local server seen through the :class:`mlops.promotion.deploy.Endpoint` API."""

    server: LocalServer
    samples: list[Path] | None = None

    @property
    def url(self) -> str:
        return self.server.score_url

    def predict(self, features: pd.DataFrame) -> list[float]:
        return score_over_http(self.url, features)

    def smoke_test(self, latency_ms: int) -> dict[str, Any]:
        result = smoke_test(self.url, samples=self.samples, latency_ms=float(latency_ms))
        return {"passed": result.ok, "message": result.verdict()}


@dataclass
class LocalDeployer:
    """Deploys a registry entry to a local environment for the duration of the context."""

    samples: list[Path] | None = None
    start_timeout_s: float = 120.0

    @contextmanager
    def deploy(
        self, env: str, model: ModelVersionInfo, rollout: RolloutSettings
    ) -> Iterator[LocalServerEndpoint]:
        served = served_model(env, model.version, model.name)
        logs = settings.store_dir(env) / "logs" / f"{model.name}-{model.version}.log"
        log.info("deploying version %s of %s to local %s", model.version, model.name, env)
        server = LocalServer(served.path, log_file=logs)
        try:
            server.start(timeout=self.start_timeout_s)
            yield LocalServerEndpoint(server, self.samples)
        finally:
            server.stop()
