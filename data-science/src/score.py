"""Online scoring entry script for the Azure ML inference server (managed online endpoints).

Contract of the Azure ML inference server: ``init()`` runs once per worker and loads the
model from ``AZUREML_MODEL_DIR``; ``run(raw_data)`` receives the request body as a string.

Requests use the payload of Azure ML's no-code MLflow deployments, so a client can switch
between this deployment and a no-code one:

- split form:   ``{"input_data": {"columns": [...], "index": [...], "data": [[...], ...]}}``
- records form: ``{"input_data": [{"distance": 2.1, ...}, ...]}``

The response is what a no-code MLflow deployment returns for a regressor: a JSON list with
one prediction per row, in request order (``[12.7, 8.4]``).

Columns are matched by name against the model signature, never by position. Bad input is
answered with a 4xx and a one-line JSON ``{"message": ...}`` (the inference server's own
error shape): non-JSON body, no ``input_data``, rows without column names, missing or
unknown columns, text, null, NaN or infinity where a number belongs, a number beyond
``MAX_ABS_VALUE`` (no trip feature comes near it; beyond it a model's arithmetic can
overflow), JSON nested too deeply, no rows, or more rows than ``SCORE_MAX_ROWS``
(default 10000). Unknown extra columns are refused rather than
ignored: a client sending a column the model does not know has a stale or misspelt schema,
and dropping it silently is how such bugs hide.
"""

from __future__ import annotations

import json
import logging
import math
import os
import sys
from pathlib import Path
from typing import Any, NamedTuple

logger = logging.getLogger(__name__)

MAX_ROWS_ENV = "SCORE_MAX_ROWS"
DEFAULT_MAX_ROWS = 10_000
#: Largest magnitude accepted in a feature cell (coordinates, miles, calendar parts).
MAX_ABS_VALUE = 1e9

# MLflow column types this script can fill from JSON numbers, and whether they must be whole.
_NUMERIC_TYPES = {
    "double": ("float64", False),
    "float": ("float32", False),
    "long": ("int64", True),
    "integer": ("int32", True),
}


class RequestError(ValueError):
    """A request the client must fix; carries the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class Column(NamedTuple):
    """One model input column; a NamedTuple because the inference server imports this
    script without registering it in sys.modules, which dataclasses need."""

    name: str
    dtype: str  # numpy dtype the model expects
    whole: bool  # integer column: values must be whole numbers


class ScoringModel:
    """A loaded MLflow model plus the input columns its signature declares.

    ``estimator`` is the raw sklearn Pipeline of an sklearn-flavour model. Scoring calls it
    directly: the callers (``to_frame`` here, ``read_features`` in batch) already check
    names, types and values against the signature, so pyfunc's schema enforcement would
    only repeat that work on every request. Other flavours go through pyfunc.
    """

    def __init__(
        self, model: Any, columns: tuple[Column, ...], source: Path, estimator: Any = None
    ) -> None:
        self.model = model  # mlflow.pyfunc.PyFuncModel; None when loaded without MLflow
        self.columns = columns
        self.source = source
        self.estimator = estimator

    def predict(self, frame: Any) -> list[float]:
        """Predict and return plain floats; a non-finite prediction is a model fault."""
        predictor = self.model if self.estimator is None else self.estimator
        return self.finish(predictor.predict(frame), len(frame))

    @staticmethod
    def finish(predictions: Any, rows: int) -> list[float]:
        """Predictions as plain floats; a wrong count or a non-finite value is a model fault."""
        import numpy as np

        raw = np.asarray(predictions, dtype="float64").reshape(-1)
        if raw.shape[0] != rows:
            raise RuntimeError(f"model returned {raw.shape[0]} predictions for {rows} rows")
        finite = np.isfinite(raw)
        if not finite.all():
            bad = int(np.flatnonzero(~finite)[0])
            raise RuntimeError(f"model returned a non-finite prediction ({raw[bad]}) for row {bad}")
        return raw.tolist()


def set_n_jobs(estimator: Any, n_jobs: int) -> list[str]:
    """Set ``n_jobs`` on every step of a Pipeline (or the estimator) that has it.

    Models are saved with ``n_jobs=-1`` for training; on a one-row request joblib's thread
    dispatch over the trees costs more than the trees themselves, so online scoring uses
    one thread and batch scoring all cores. Returns the names of the steps changed.
    """
    steps = getattr(estimator, "steps", None) or [("model", estimator)]
    changed = []
    for name, step in steps:
        params = step.get_params(deep=False) if hasattr(step, "get_params") else {}
        if "n_jobs" in params and params["n_jobs"] != n_jobs:
            step.set_params(n_jobs=n_jobs)
            changed.append(name)
    return changed


_MODEL: ScoringModel | None = None
_COLLECT: Any = None  # taxi_fare.collect sink, None when collection is off


def _collector(model: ScoringModel, source: str) -> Any:
    """The data collection sink of taxi_fare.collect, or None (off, or no taxi_fare)."""
    try:
        from taxi_fare.collect import collector
    except ImportError:
        return None
    return collector([c.name for c in model.columns], source)


def find_model_dir(root: Path) -> Path:
    """The folder holding ``MLmodel``: ``root`` itself or the one folder below it that has it.

    Azure ML mounts a registered model as ``$AZUREML_MODEL_DIR/<artifact folder>/MLmodel``;
    a local run may point straight at the model folder.
    """
    if (root / "MLmodel").is_file():
        return root
    found = sorted(p.parent for p in root.rglob("MLmodel") if p.is_file())
    if not found:
        raise FileNotFoundError(f"no MLmodel file under model directory {root}")
    if len(found) > 1:
        listing = ", ".join(str(p) for p in found)
        raise FileNotFoundError(f"more than one MLflow model under {root}: {listing}")
    return found[0]


def load_scoring_model(root: Path, n_jobs: int | None = 1) -> ScoringModel:
    """Load the MLflow model under ``root`` and read its input columns from the signature.

    ``n_jobs`` is set on the model's parallel steps (None keeps what the model was saved with);
    with ``n_jobs=1`` (online) our forest pipelines get the packed-forest predictor.
    """
    _import_step_library()
    path = find_model_dir(root)
    direct = _load_cloudpickled_sklearn(path)
    if direct is not None:
        model, estimator, specs = None, *direct
    else:
        import mlflow.pyfunc

        # The scoring environment and the model's requirements are pinned from the same lock
        # (tests/test_pins.py), so MLflow's requirement-mismatch scan finds nothing; it walks
        # every installed distribution and costs seconds on each worker start.
        model = mlflow.pyfunc.load_model(str(path), suppress_warnings=True)
        signature = model.metadata.signature
        specs = None if signature is None or signature.inputs is None else [
            {"name": getattr(spec, "name", None), "type": _type_name(spec)}
            for spec in signature.inputs.inputs
        ]  # fmt: skip
        estimator = model.get_raw_model() if "sklearn" in model.metadata.flavors else None
    if not specs or not all(isinstance(spec.get("name"), str) for spec in specs):
        raise ValueError(f"model at {path} has no column signature; columns cannot be matched")
    columns = []
    for spec in specs:
        type_name = str(spec.get("type"))
        if type_name not in _NUMERIC_TYPES:
            raise ValueError(
                f"model at {path}: column {spec['name']!r} has unsupported type {type_name}"
            )
        dtype, whole = _NUMERIC_TYPES[type_name]
        columns.append(Column(spec["name"], dtype, whole))
    if estimator is not None and n_jobs is not None:
        changed = set_n_jobs(estimator, n_jobs)
        if changed:
            logger.info("n_jobs=%d on model steps %s", n_jobs, ", ".join(changed))
        if n_jobs == 1:
            estimator = _fast_predictor(estimator)
    logger.info("loaded model from %s with %d input columns", path, len(columns))
    return ScoringModel(model=model, columns=tuple(columns), source=path, estimator=estimator)


def _type_name(spec: Any) -> str:
    return getattr(getattr(spec, "type", None), "name", str(getattr(spec, "type", "")))


def _load_cloudpickled_sklearn(path: Path) -> tuple[Any, list[dict[str, Any]] | None] | None:
    """(estimator, signature input specs) of a cloudpickled sklearn model, else None.

    What ``mlflow.sklearn`` does for such a model (code paths first on sys.path, then
    ``cloudpickle.load``), without importing MLflow: that import is seconds of every batch
    job's and server worker's start-up. Any other flavour or format goes through pyfunc.
    """
    import yaml

    conf = yaml.safe_load((path / "MLmodel").read_text(encoding="utf-8")) or {}
    flavors = conf.get("flavors") or {}
    sklearn_conf = flavors.get("sklearn") or {}
    pickled = sklearn_conf.get("pickled_model")
    if sklearn_conf.get("serialization_format") != "cloudpickle" or not pickled:
        return None
    raw_inputs = (conf.get("signature") or {}).get("inputs")
    specs = json.loads(raw_inputs) if isinstance(raw_inputs, str) else None
    code = (flavors.get("python_function") or {}).get("code")
    if code:
        sys.path.insert(0, str(path / code))
    import cloudpickle

    with (path / pickled).open("rb") as handle:
        estimator = cloudpickle.load(handle)
    return estimator, specs


def _import_step_library() -> None:
    """Import taxi_fare from beside this script before MLflow loads the model.

    The model also carries taxi_fare (``code_paths``), and MLflow puts that copy first on
    sys.path when nothing has imported taxi_fare yet. Serving code and step library are
    deployed together (``code:`` is data-science/src), so the deployed copy wins: the
    model's pickled objects then use its fast path, and ``DerivedFeatures`` emits exactly
    the columns each (possibly older) model was fitted on.
    """
    here = str(Path(__file__).resolve().parent)
    if (Path(here) / "taxi_fare").is_dir() and here not in sys.path:
        sys.path.append(here)  # after site-packages: an installed taxi_fare stays first
    try:
        import taxi_fare.models  # noqa: F401 (imported for its side effect on sys.modules)
    except ImportError:  # a deployment without the library: the model's copy is used
        logger.info("taxi_fare not importable beside score.py; using the model's copy")


def _fast_predictor(estimator: Any) -> Any:
    """The packed-forest predictor of ``taxi_fare.models`` when it applies, else ``estimator``.

    Only for single-threaded (online) scoring; a taxi_fare too old to have it is no error.
    """
    try:
        from taxi_fare.models import fast_predictor
    except ImportError:
        return estimator
    fast = fast_predictor(estimator)
    if fast is None:
        return estimator
    logger.info("scoring with the packed forest (%d trees)", fast.forest.roots.size)
    return fast


def max_rows() -> int:
    """Row limit per request, from ``SCORE_MAX_ROWS`` (default 10000)."""
    raw = os.environ.get(MAX_ROWS_ENV, "")
    if not raw:
        return DEFAULT_MAX_ROWS
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{MAX_ROWS_ENV}={raw!r} is not an integer") from None
    if value < 1:
        raise ValueError(f"{MAX_ROWS_ENV}={value} must be at least 1")
    return value


def _refuse_constant(token: str) -> float:
    raise RequestError(f"input contains {token}; only finite numbers are accepted")


def parse_body(raw: str | bytes) -> Any:
    """JSON-decode a request body; NaN and Infinity literals are refused at parse time."""
    try:
        return json.loads(raw, parse_constant=_refuse_constant)
    except RequestError:
        raise
    except RecursionError:
        raise RequestError("body is nested too deeply to be a table of rows") from None
    except (ValueError, TypeError) as exc:
        raise RequestError(f"body is not valid JSON: {exc}") from None


def rows_by_column(body: Any, limit: int) -> tuple[list[str], list[list[Any]]]:
    """Turn either request form into (column names, row values in the same order).

    Raises RequestError for anything but a named, non-empty table within the row limit.
    """
    if not isinstance(body, dict) or "input_data" not in body:
        raise RequestError('request has no "input_data" key')
    data = body["input_data"]
    if isinstance(data, dict):
        if "columns" not in data:
            raise RequestError(
                'input_data has no "columns": rows without column names are refused, '
                "send the split form with columns or the records form"
            )
        columns, rows = data["columns"], data.get("data")
        if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
            raise RequestError('input_data "columns" must be a list of column names')
        if not isinstance(rows, list):
            raise RequestError('input_data "data" must be a list of rows')
        _check_count(len(rows), limit)
        for i, row in enumerate(rows):
            if not isinstance(row, list) or len(row) != len(columns):
                size = len(row) if isinstance(row, list) else type(row).__name__
                raise RequestError(f"row {i} has {size} values for {len(columns)} columns")
        return columns, rows
    if isinstance(data, list):
        _check_count(len(data), limit)
        if not all(isinstance(r, dict) for r in data):
            raise RequestError(
                "input_data rows must be objects naming their columns; bare lists are refused "
                "because their column order cannot be checked"
            )
        columns = list(data[0])
        for i, record in enumerate(data):
            if list(record) != columns and set(record) != set(columns):
                missing = sorted(set(columns) - set(record))
                extra = sorted(set(record) - set(columns))
                raise RequestError(
                    f"row {i} has different columns from row 0 (missing {missing}, extra {extra})"
                )
        return columns, [[record[c] for c in columns] for record in data]
    raise RequestError("input_data must be an object with columns and data, or a list of records")


def _check_count(rows: int, limit: int) -> None:
    if rows == 0:
        raise RequestError("input_data has no rows")
    if rows > limit:
        raise RequestError(f"{rows} rows exceed the limit of {limit} rows per request", status=413)


def to_frame(columns: list[str], rows: list[list[Any]], expected: tuple[Column, ...]) -> Any:
    """Validate names and values against the signature; return a DataFrame in signature order."""
    import pandas as pd

    values = to_columns(columns, rows, expected)
    dtypes = {c.dtype for c in expected}
    if len(dtypes) == 1:
        # One block, no per-column consolidation: most of a one-row request's frame cost.
        return pd.DataFrame(stack_columns(values, expected), columns=[c.name for c in expected])
    return pd.DataFrame(values)


def stack_columns(values: dict[str, Any], expected: tuple[Column, ...]) -> Any:
    """The validated columns as one 2-D array in signature order (signature of one dtype)."""
    import numpy as np

    block = np.empty((len(values[expected[0].name]), len(expected)), dtype=expected[0].dtype)
    for j, col in enumerate(expected):
        block[:, j] = values[col.name]
    return block


def to_columns(
    columns: list[str], rows: list[list[Any]], expected: tuple[Column, ...]
) -> dict[str, Any]:
    """Validate names and values against the signature; one typed array per column."""
    import numpy as np

    if len(set(columns)) != len(columns):
        dupes = sorted({c for c in columns if columns.count(c) > 1})
        raise RequestError(f"duplicate columns: {', '.join(dupes)}")
    names = {c.name for c in expected}
    missing = [c.name for c in expected if c.name not in set(columns)]
    if missing:
        raise RequestError(f"missing columns: {', '.join(missing)}")
    unknown = [c for c in columns if c not in names]
    if unknown:
        raise RequestError(f"unknown columns (not in the model signature): {', '.join(unknown)}")
    position = {name: i for i, name in enumerate(columns)}
    values: dict[str, Any] = {}
    for col in expected:
        j = position[col.name]
        cells = [row[j] for row in rows]
        for i, v in enumerate(cells):
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                shown = json.dumps(v)[:40]
                raise RequestError(f"column {col.name!r} row {i}: expected a number, got {shown}")
            if isinstance(v, float) and not math.isfinite(v):
                raise RequestError(f"column {col.name!r} row {i}: {v} is not a finite number")
            if abs(v) > MAX_ABS_VALUE:
                shown = json.dumps(v)[:40]
                raise RequestError(
                    f"column {col.name!r} row {i}: {shown} is beyond {MAX_ABS_VALUE:g} in magnitude"
                )
            if col.whole and isinstance(v, float) and not v.is_integer():
                raise RequestError(f"column {col.name!r} row {i}: expected a whole number, got {v}")
        try:
            values[col.name] = np.asarray(cells, dtype=col.dtype)
        except OverflowError:
            raise RequestError(
                f"column {col.name!r}: a value is out of range for {col.dtype}"
            ) from None
        if not np.isfinite(values[col.name]).all():
            raise RequestError(f"column {col.name!r}: a value is out of range for {col.dtype}")
    return values


def score_body(
    raw: str | bytes, model: ScoringModel, limit: int, collect: Any = None
) -> list[float]:
    """Parse, validate and score one request body; RequestError for client mistakes.

    ``collect(features, predictions)`` (taxi_fare.collect) receives each scored request.
    """
    columns, rows = rows_by_column(parse_body(raw), limit)
    expected = model.columns
    fast_order = getattr(model.estimator, "input_columns", None)
    if (
        fast_order is not None
        and tuple(c.name for c in expected) == tuple(fast_order)
        and all(c.dtype == "float64" for c in expected)
    ):
        # Our forest pipelines: validated columns straight into the packed forest.
        features = stack_columns(to_columns(columns, rows, expected), expected)
        predictions = model.finish(model.estimator.predict_features(features), len(features))
    else:
        features = to_frame(columns, rows, expected)
        predictions = model.predict(features)
    if collect is not None:
        collect(features, predictions)
    return predictions


def _json_response(payload: Any, status: int) -> Any:
    from azureml_inference_server_http.api.aml_response import AMLResponse

    return AMLResponse(payload, status, json_str=True)


def init() -> None:
    """Load the model once per worker from ``AZUREML_MODEL_DIR``."""
    global _MODEL, _COLLECT
    root = os.environ.get("AZUREML_MODEL_DIR")
    if not root:
        raise RuntimeError("AZUREML_MODEL_DIR is not set; the inference server sets it")
    max_rows()  # fail at start-up, not per request, on a bad limit
    _MODEL = load_scoring_model(Path(root))
    _COLLECT = _collector(_MODEL, "online")


def run(raw_data: str) -> Any:
    """Score one request; 4xx with a one-line JSON message for input the client must fix."""
    if _MODEL is None:
        return _json_response({"message": "model is not loaded"}, 503)
    try:
        return score_body(raw_data, _MODEL, max_rows(), _COLLECT)
    except RequestError as exc:
        logger.info("refused request: %s", exc)
        message = " ".join(str(exc).splitlines())  # column names may hold line breaks
        return _json_response({"message": message}, exc.status)
    except Exception as exc:  # a model fault: no traceback to the client, full one in the log
        logger.exception("scoring failed")
        return _json_response({"message": f"scoring failed: {exc}".splitlines()[0]}, 500)
