"""An MLflow model folder as a ``ScoringModel``: the predictor and its signature columns.

Online scoring (``n_jobs=1``) gets the ONNX Runtime session of ``tree_runtime`` for our
tree pipelines (the train2 forest, the AutoML winners); batch scoring keeps sklearn on
every core, where whole files amortise joblib's per-call cost (and sklearn's tree-by-tree
walk beats ONNX Runtime's row-by-row one on large blocks: 183 against 407 us a row on the
train2 forest, 20,000 rows, load 10).
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from taxi_fare.serving.payload import NUMERIC_TYPES, Column
from taxi_fare.serving.tree_runtime import compiled_predictor

log = logging.getLogger(__name__)

#: ``collect(features, predictions)`` of ``taxi_fare.collect``.
Collect = Callable[[Any, list[float]], None]


class ScoringModel:
    """A loaded MLflow model plus the input columns its signature declares.

    ``estimator`` is the raw sklearn Pipeline of an sklearn-flavour model (or its compiled
    predictor). Scoring calls it directly: the callers (``payload``, ``batch_files``)
    already check names, types and values against the signature, so pyfunc's schema
    enforcement would only repeat that work on every request. Other flavours go through
    pyfunc.
    """

    def __init__(
        self, model: Any, columns: tuple[Column, ...], source: Path, estimator: Any = None
    ) -> None:
        self.model = model  # mlflow.pyfunc.PyFuncModel; None when loaded without MLflow
        self.columns = columns
        self.source = source
        self.estimator = estimator
        # Our compiled pipelines take validated float64 columns in their own order straight
        # from the request (``predict_row``/``predict_features``); decided once, not per request.
        order = getattr(estimator, "input_columns", None)
        self.compiled_rows = (
            order is not None
            and tuple(c.name for c in columns) == tuple(order)
            and all(c.dtype == "float64" for c in columns)
        )

    def predict(self, frame: Any) -> list[float]:
        """Predict and return plain floats; a non-finite prediction is a model fault."""
        predictor = self.model if self.estimator is None else self.estimator
        return self.finish(predictor.predict(frame), len(frame))

    @staticmethod
    def finish(predictions: Any, rows: int) -> list[float]:
        """Predictions as plain floats; a wrong count or a non-finite value is a model fault."""
        raw = np.asarray(predictions, dtype="float64").reshape(-1)
        if raw.shape[0] != rows:
            raise RuntimeError(f"model returned {raw.shape[0]} predictions for {rows} rows")
        finite = np.isfinite(raw)
        if not finite.all():
            bad = int(np.flatnonzero(~finite)[0])
            raise RuntimeError(f"model returned a non-finite prediction ({raw[bad]}) for row {bad}")
        return [float(v) for v in raw.tolist()]


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


def collector(model: ScoringModel, source: str) -> Collect | None:
    """The data collection sink of ``taxi_fare.collect`` for this model, or None when off."""
    from taxi_fare.collect import collector as make

    sink: Collect | None = make([c.name for c in model.columns], source)
    return sink


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
    with ``n_jobs=1`` (online) our tree pipelines are compiled to ONNX Runtime.
    """
    path = find_model_dir(root)
    direct = _load_cloudpickled_sklearn(path)
    model: Any = None
    if direct is not None:
        estimator, specs = direct
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
        if type_name not in NUMERIC_TYPES:
            raise ValueError(
                f"model at {path}: column {spec['name']!r} has unsupported type {type_name}"
            )
        dtype, whole = NUMERIC_TYPES[type_name]
        columns.append(Column(spec["name"], dtype, whole))
    if estimator is not None and n_jobs is not None:
        changed = set_n_jobs(estimator, n_jobs)
        if changed:
            log.info("n_jobs=%d on model steps %s", n_jobs, ", ".join(changed))
        if n_jobs == 1:
            compiled = compiled_predictor(estimator)
            if compiled is not None:
                log.info(
                    "scoring on ONNX Runtime (%s: %d trees)",
                    " + ".join(compiled.trees.kinds),
                    compiled.trees.trees,
                )
                estimator = compiled
    log.info("loaded model from %s with %d input columns", path, len(columns))
    return ScoringModel(model=model, columns=tuple(columns), source=path, estimator=estimator)


def _type_name(spec: Any) -> str:
    return str(getattr(getattr(spec, "type", None), "name", str(getattr(spec, "type", ""))))


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
