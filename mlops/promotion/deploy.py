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

from mlops.errors import MlopsError

if TYPE_CHECKING:
    import pandas as pd

    from mlops.registry.local_registry import ModelVersionInfo
    from mlops.registry.releases import Rollout


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
        self, env: str, model: ModelVersionInfo, rollout: Rollout
    ) -> AbstractContextManager[Endpoint]: ...


def score_over_http(
    url: str,
    features: pd.DataFrame,
    key: str | None = None,
    batch_rows: int = 1000,
    deployment: str | None = None,
) -> list[float]:
    """Score rows through an online endpoint (``input_data`` split format, by column name).

    ``deployment`` pins one Azure ML deployment (colour) whatever the traffic split says.
    """
    import requests

    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    if deployment:
        headers["azureml-model-deployment"] = deployment
    predictions: list[float] = []
    for start in range(0, len(features), batch_rows):
        chunk = features.iloc[start : start + batch_rows]
        body = {
            "input_data": {
                "columns": [str(c) for c in chunk.columns],
                "index": list(range(len(chunk))),
                "data": chunk.to_numpy().tolist(),
            }
        }
        try:
            response = requests.post(url, json=body, headers=headers, timeout=60)
        except requests.RequestException as exc:
            raise MlopsError(f"{url}: scoring request failed ({exc})") from None
        if response.status_code != 200:
            raise MlopsError(f"{url}: scoring returned HTTP {response.status_code}")
        try:
            payload = response.json()
        except ValueError:
            raise MlopsError(f"{url}: scoring response is not JSON") from None
        predictions.extend(_predictions(payload, url))
    if len(predictions) != len(features):
        raise MlopsError(f"{url}: got {len(predictions)} predictions for {len(features)} rows")
    return predictions


def _predictions(payload: Any, url: str) -> list[float]:
    # No-code MLflow deployments answer with a bare list; some servers wrap it.
    if isinstance(payload, dict):
        for key in ("predictions", "output", "outputs"):
            if key in payload:
                payload = payload[key]
                break
    if not isinstance(payload, list):
        raise MlopsError(f"{url}: unexpected response shape {type(payload).__name__}")
    try:
        return [float(v[0] if isinstance(v, list) else v) for v in payload]
    except (TypeError, ValueError, IndexError):
        raise MlopsError(f"{url}: response holds a non-numeric prediction") from None


@dataclass
class HttpEndpoint:
    """An online endpoint reached over HTTP (the Azure stage endpoint, or any URL)."""

    url: str
    key: str | None = None
    deployment: str | None = None

    def predict(self, features: pd.DataFrame) -> list[float]:
        return score_over_http(self.url, features, self.key, deployment=self.deployment)

    def smoke_test(self, latency_ms: int) -> dict[str, Any]:
        from mlops.endpoints.smoke import smoke_test

        result = smoke_test(
            self.url, key=self.key, latency_ms=float(latency_ms), deployment=self.deployment
        )
        return {"passed": result.ok, "message": result.verdict()}
