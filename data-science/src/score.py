"""Online scoring entry script for the Azure ML inference server (managed online endpoints).

Contract of the Azure ML inference server: ``init()`` runs once per worker and loads the
model from ``AZUREML_MODEL_DIR``; ``run(raw_data)`` receives the request body as a string.
The server imports this file by path, so it stays a shell: requests, validation and model
loading live in ``taxi_fare.serving`` (payload forms and the 4xx rules:
``taxi_fare/serving/payload.py``), deployed beside it (the deployment's ``code:`` is
data-science/src).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

# The inference server does not put this folder on sys.path. After site-packages, so an
# installed taxi_fare stays first; before MLflow loads the model, so the model's own copy
# (``code_paths``) is not the one imported and every model gets this copy's fast path.
_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.append(_HERE)

from taxi_fare.serving.loading import ScoringModel, collector, load_scoring_model  # noqa: E402
from taxi_fare.serving.online import answer, score_body  # noqa: E402
from taxi_fare.serving.payload import RequestError, max_rows, parse_body, rows_by_column  # noqa: E402

__all__ = ["RequestError", "init", "load_scoring_model", "parse_body", "rows_by_column", "run",
           "score_body"]  # fmt: skip

_MODEL: ScoringModel | None = None
_COLLECT: Any = None  # taxi_fare.collect sink, None when collection is off


def init() -> None:
    """Load the model once per worker from ``AZUREML_MODEL_DIR``."""
    global _MODEL, _COLLECT
    root = os.environ.get("AZUREML_MODEL_DIR")
    if not root:
        raise RuntimeError("AZUREML_MODEL_DIR is not set; the inference server sets it")
    max_rows()  # fail at start-up, not per request, on a bad limit
    _MODEL = load_scoring_model(Path(root))
    _COLLECT = collector(_MODEL, "online")


def run(raw_data: str) -> Any:
    """Score one request: the predictions, or a one-line JSON message with a 4xx/5xx status."""
    status, payload = answer(raw_data, _MODEL, max_rows(), _COLLECT)
    if status == 200:
        return payload
    from azureml_inference_server_http.api.aml_response import AMLResponse

    return AMLResponse(payload, status, json_str=True)
