"""Fitted tree models as ONNX Runtime sessions: compiled tree inference for online scoring.

sklearn predicts tree by tree through joblib, and a VotingRegressor calls each member in
turn: on a one-row request that machinery costs far more than the tree walks themselves.
ONNX Runtime walks every tree in C++ in one call. ``tree_graphs`` writes each model as one
``TreeEnsemble`` node from the fitted arrays (in seconds; skl2onnx writes the float-only
opset 3 node in Python node by node, about a minute for the train2 forest): the train2
forest, and the AutoML winners (rf, extra_tree, lgbm, histgb, alone or in the vote
ensemble). A vote ensemble's graph gives every member's prediction and ``np.average``
weighs them as sklearn's VotingRegressor.predict does, so the answer is the model's own,
bit for bit (tests/data_science/test_fast_scoring.py, test_tree_graphs.py).

The session is built when the scoring script loads the model (``init``), so any MLflow
model registered before keeps working and the model folder stays plain ``mlflow.sklearn``.
"""

from __future__ import annotations

import logging
import math
import operator
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.pipeline import Pipeline

from taxi_fare.features import DerivedFeatures
from taxi_fare.models import ModelError
from taxi_fare.schema import FEATURES
from taxi_fare.serving.one_row import derived_row
from taxi_fare.serving.tree_graphs import Member, member_of, members_graph

if TYPE_CHECKING:
    import onnx
    import onnxruntime

log = logging.getLogger(__name__)

#: numpy's pairwise summation adds blocks of 8 in an unrolled loop; below, one by one.
_PAIRWISE_BLOCK = 8


def session(model: onnx.ModelProto, threads: int = 1) -> onnxruntime.InferenceSession:
    """An ONNX Runtime CPU session on ``threads`` threads (1: one request per worker)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3  # warnings about unused optimisers are not ours to fix
    return ort.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )


def members(model: Any) -> tuple[list[Member], list[float] | None]:
    """The tree members of a fitted regressor and the vote weights (None: one member, or
    equal weights); a ModelError for a model the graph cannot reproduce."""
    from sklearn.ensemble import VotingRegressor

    if not isinstance(model, VotingRegressor):
        return [member_of(model)], None
    fitted = getattr(model, "estimators_", None)
    if not fitted:
        raise ModelError("tree runtime needs a fitted VotingRegressor")
    weights = model._weights_not_none  # what VotingRegressor.predict hands np.average
    return [member_of(m) for m in fitted], None if weights is None else list(weights)


class _BoundRow:
    """One row's input and output buffers bound to the session once, for ``predict_one``.

    ``InferenceSession.run`` converts the feed dict and allocates its outputs on every call,
    about 20 us of a one-row request; ``run_with_iobinding`` reads and writes these arrays
    in place (onnxruntime's documented IOBinding API:
    https://onnxruntime.ai/docs/api/python/api_summary.html#iobinding). The OrtValues
    share the arrays' memory (``OrtValue.ortvalue_from_numpy`` on the CPU), so writing the
    row into ``x`` is the whole feed. A binding is not for concurrent use, hence one per
    thread.
    """

    def __init__(self, session: onnxruntime.InferenceSession, n_features: int, n_out: int) -> None:
        import onnxruntime as ort

        self.x = np.zeros((1, n_features), dtype=np.float64)
        self.y = np.zeros((1, n_out), dtype=np.float64)
        self.binding = session.io_binding()
        self.binding.bind_ortvalue_input(
            session.get_inputs()[0].name, ort.OrtValue.ortvalue_from_numpy(self.x)
        )
        self.binding.bind_ortvalue_output(
            session.get_outputs()[0].name, ort.OrtValue.ortvalue_from_numpy(self.y)
        )
        self.session = session

    def run(self, x: Sequence[float]) -> list[float]:
        self.x[0] = x
        self.session.run_with_iobinding(self.binding)
        out: list[float] = self.y[0].tolist()
        return out


class CompiledTrees:
    """A fitted tree regressor's (or vote ensemble's) ``predict`` on ONNX Runtime, for 2-D
    float arrays of its inputs."""

    def __init__(self, model: Any) -> None:
        self.members, self.weights = members(model)
        self.n_features = self.members[0].n_features
        self.session = session(members_graph(self.members))
        self.trees = sum(len(m.trees) for m in self.members)
        self.kinds = [m.kind for m in self.members]
        self._bound = threading.local()  # a _BoundRow per thread (waitress serves on threads)

    def predict(self, x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        rows = np.asarray(x, dtype=np.float64)
        if rows.ndim != 2 or rows.shape[1] != self.n_features:
            raise ModelError(f"expected {self.n_features} features, got shape {rows.shape}")
        out = np.asarray(self.session.run(None, {"X": rows})[0], dtype=np.float64)
        if len(self.members) == 1:
            return out.reshape(-1)
        # sklearn/ensemble/_voting.py VotingRegressor.predict: the same call on the same
        # (rows, members) array of member predictions.
        return np.asarray(np.average(out, axis=1, weights=self.weights), dtype=np.float64)

    def predict_one(self, x: Sequence[float]) -> float:
        """``predict`` of one row of plain floats, the vote weighed in Python floats.

        ``np.average`` on one row of fewer than 8 members multiplies each prediction by its
        weight, sums the products from +0.0 in member order (numpy's pairwise sum runs a
        plain loop below 8 elements) and divides by the weights' sum: the same double
        operations as ``combine_one``, without numpy's per-call cost (tested equal, signed
        zeros included).
        """
        if len(self.members) >= _PAIRWISE_BLOCK:  # numpy's blocked sum: its own order
            return float(self.predict(np.array([x], dtype=np.float64))[0])
        bound: _BoundRow | None = getattr(self._bound, "row", None)
        if bound is None:
            bound = self._bound.row = _BoundRow(self.session, self.n_features, len(self.members))
        out = bound.run(x)
        if len(self.members) == 1:
            return out[0]
        return self.combine_one(out)

    def combine_one(self, predictions: list[float]) -> float:
        """The weighted average of one row's member predictions, as ``np.average`` makes it
        for fewer than 8 members (without weights: the mean)."""
        weights = self.weights or [1.0] * len(self.members)
        total = 0.0
        for prediction, weight in zip(predictions, weights, strict=True):
            total += prediction * float(weight)
        return total / float(sum(weights))


class CompiledPipeline:
    """``DerivedFeatures`` then ``CompiledTrees``; sklearn for rows it would route itself.

    Non-finite derived features go to sklearn, whose missing-value routing the graph does
    not replicate (validated finite inputs do not produce them).
    """

    #: Column order of ``predict_features`` and ``predict_row`` input.
    input_columns = FEATURES

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.features: DerivedFeatures = pipeline.steps[0][1]
        self.trees = CompiledTrees(pipeline.steps[-1][1])
        self.names = [str(n) for n in self.features.get_feature_names_out()]
        self._pick = operator.itemgetter(*self.names)  # derived_row's dict -> model columns

    def _sklearn(self, block: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        frame = pd.DataFrame(block, columns=list(FEATURES))
        return np.asarray(self.pipeline.predict(frame), dtype=np.float64)

    def predict(self, frame: pd.DataFrame) -> npt.NDArray[np.float64]:
        _, x = self.features.transform_array(frame)
        if not np.isfinite(x).all():
            return np.asarray(self.pipeline.predict(frame), dtype=np.float64)
        return self.trees.predict(x)

    def predict_features(self, block: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """``predict`` for a float64 array whose columns are ``FEATURES`` in order."""
        x = self.features.transform_features(block)
        if not np.isfinite(x).all():
            return self._sklearn(block)
        return self.trees.predict(x)

    def predict_row(self, row: list[float]) -> float:
        """One row of ``FEATURES`` values as plain floats: derived in Python, one ORT call."""
        x = self._pick(derived_row(row))
        # One check for all: the sum of finite values is finite unless it overflows, and
        # an overflowing row just takes sklearn's path, which is right for any row.
        if not math.isfinite(sum(x)):
            return float(self._sklearn(np.array([row]))[0])
        return self.trees.predict_one(x)


def compiled_predictor(pipeline: Any) -> CompiledPipeline | None:
    """A ``CompiledPipeline`` for our derived-features + tree-regressor pipelines, else None.

    The regressor is the train2 forest or an AutoML winner (one learner or the vote
    ensemble); anything ``tree_graphs`` cannot reproduce is served by its own library.
    """
    steps = getattr(pipeline, "steps", None)
    if not isinstance(pipeline, Pipeline) or not steps or len(steps) != 2:
        return None
    features, model = steps[0][1], steps[1][1]
    if not isinstance(features, DerivedFeatures):
        return None
    produced = getattr(features, "feature_names_out_", None)
    if produced is None or not set(map(str, produced)) <= set(derived_row([0.0] * len(FEATURES))):
        return None  # fitted on a feature this code does not compute: sklearn names it
    for fitted in getattr(model, "estimators_", None) or [model]:
        expected = getattr(fitted, "feature_names_in_", None)
        if expected is not None and list(expected) != list(produced):
            return None
    try:
        compiled = CompiledPipeline(pipeline)
    except ImportError as exc:  # an image without onnx/onnxruntime still serves, on sklearn
        log.warning("no compiled tree runtime (%s); scoring with its own library", exc)
        return None
    except ModelError as exc:
        log.info("no compiled tree runtime for this model (%s)", exc)
        return None
    if compiled.trees.n_features != len(produced):
        return None
    return compiled
