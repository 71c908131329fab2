"""The client side of the Azure ML online endpoint contract: score rows over HTTP.

Used by the local deployer, the Azure stage endpoint of promotion and the stage tests;
it speaks the ``input_data`` split format both the local inference server and an Azure
ML managed online endpoint accept.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlops.errors import MlopsError

if TYPE_CHECKING:
    import pandas as pd


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
