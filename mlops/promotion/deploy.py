"""How promotion reaches an endpoint: a small interface the local twin and tests plug into.

``Deployer.deploy`` makes an environment serve a registry version and yields an
:class:`Endpoint` for the stage tests and smoke test; leaving the context ends
what the promotion started (locally: stops the server). The scoring client speaks
the Azure ML online endpoint contract, so it works against the local inference
server and the Azure stage endpoint alike.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from mlops.endpoints.scoring_client import score_over_http
from mlops.endpoints.smoke import smoke_test

if TYPE_CHECKING:
    import pandas as pd

    from mlops.registry.local_registry import ModelVersionInfo
    from mlops.registry.releases import RolloutSettings


class Endpoint(Protocol):
    url: str

    def predict(self, features: pd.DataFrame) -> list[float]:
        """One prediction per row, in row order."""
        ...

    def smoke_test(self, latency_ms: int) -> dict[str, Any]:
        """``{"passed": bool, "message": str}``."""
        ...


class Deployer(Protocol):
    def deploy(
        self, env: str, model: ModelVersionInfo, rollout: RolloutSettings
    ) -> AbstractContextManager[Endpoint]: ...


@dataclass
class HttpEndpoint:
    """An online endpoint reached over HTTP (the Azure stage endpoint, or any URL)."""

    url: str
    key: str | None = None
    deployment: str | None = None

    def predict(self, features: pd.DataFrame) -> list[float]:
        return score_over_http(self.url, features, self.key, deployment=self.deployment)

    def smoke_test(self, latency_ms: int) -> dict[str, Any]:
        result = smoke_test(
            self.url, key=self.key, latency_ms=float(latency_ms), deployment=self.deployment
        )
        return {"passed": result.ok, "message": result.verdict()}
