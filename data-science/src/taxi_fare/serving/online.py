"""One online request: body in, predictions (or the 4xx/5xx answer) out.

The response is what a no-code MLflow deployment returns for a regressor: a JSON list with
one prediction per row, in request order (``[12.7, 8.4]``); a refused request is answered
with the inference server's own error shape, a one-line JSON ``{"message": ...}``.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from taxi_fare.serving.loading import Collect, ScoringModel
from taxi_fare.serving.payload import (
    RequestError,
    one_row,
    parse_body,
    rows_by_column,
    stack_columns,
    to_columns,
    to_frame,
)

log = logging.getLogger(__name__)


def score_body(
    raw: str | bytes, model: ScoringModel, limit: int, collect: Collect | None = None
) -> list[float]:
    """Parse, validate and score one request body; RequestError for client mistakes.

    ``collect(features, predictions)`` (taxi_fare.collect) receives each scored request.
    """
    columns, rows = rows_by_column(parse_body(raw), limit)
    expected = model.columns
    features: Any
    if model.compiled_rows:
        # Our forest pipelines: validated columns straight into the compiled forest.
        if len(rows) == 1:  # plain floats: no numpy call per feature on a single row
            row = one_row(columns, rows[0], expected)
            prediction = model.estimator.predict_row(row)
            if not math.isfinite(prediction):
                raise RuntimeError(f"model returned a non-finite prediction ({prediction})")
            predictions = [prediction]
            features = [row] if collect is not None else None
        else:
            features = stack_columns(to_columns(columns, rows, expected), expected)
            predictions = model.finish(model.estimator.predict_features(features), len(features))
    else:
        features = to_frame(columns, rows, expected)
        predictions = model.predict(features)
    if collect is not None:
        collect(features, predictions)
    return predictions


def answer(
    raw: str | bytes, model: ScoringModel | None, limit: int, collect: Collect | None = None
) -> tuple[int, Any]:
    """(HTTP status, payload) for one request: 200 and the predictions, or a one-line message.

    4xx for input the client must fix, 503 before the model is loaded, 500 for a model
    fault (no traceback to the client, the full one in the log).
    """
    if model is None:
        return 503, {"message": "model is not loaded"}
    try:
        return 200, score_body(raw, model, limit, collect)
    except RequestError as exc:
        log.info("refused request: %s", exc)
        message = " ".join(str(exc).splitlines())  # column names may hold line breaks
        return exc.status, {"message": message}
    except Exception as exc:  # a model fault
        log.exception("scoring failed")
        return 500, {"message": f"scoring failed: {exc}".splitlines()[0]}
