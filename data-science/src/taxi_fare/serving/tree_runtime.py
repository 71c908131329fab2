"""Fitted sklearn forests as ONNX Runtime sessions: compiled tree inference for online scoring.

sklearn predicts tree by tree through joblib: on a one-row request that machinery costs
far more than the tree walks themselves. ONNX Runtime walks every tree in C++ in one
call. The forest is written as one ``ai.onnx.ml`` ``TreeEnsemble`` node (opset 5, the
first with double thresholds and leaf values), built from the fitted trees' arrays with
numpy in seconds; skl2onnx writes the float-only opset 3 node, in Python node by node
(about a minute for the train2 forest). The graph casts the input to float32 and back,
as sklearn's ``predict`` does, then compares with the double thresholds, sums the double
leaf values in estimator order and divides by the tree count: sklearn's ``predict``
with ``n_jobs=1``, bit for bit (tests/data_science/test_tree_runtime.py).

The session is built when the scoring script loads the model (``init``), so any MLflow
model registered before keeps working and the model folder stays plain ``mlflow.sklearn``.
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.ensemble import ExtraTreesRegressor, RandomForestRegressor
from sklearn.pipeline import Pipeline

from taxi_fare.features import DerivedFeatures
from taxi_fare.models import ModelError
from taxi_fare.schema import FEATURES
from taxi_fare.serving.one_row import derived_row

if TYPE_CHECKING:
    import onnx
    import onnxruntime

log = logging.getLogger(__name__)

#: ONNX IR version written: the newest ONNX Runtime 1.31 reads (the onnx package's own
#: default, 14, is newer than that).
IR_VERSION = 10
_AVERAGE = 0  # TreeEnsemble aggregate_function
_NONE = 0  # TreeEnsemble post_transform
_BRANCH_LEQ = 0  # TreeEnsemble nodes_modes: go to the true branch when x <= threshold


def forest_graph(forest: Any) -> onnx.ModelProto:
    """A fitted single-output sklearn forest regressor as an ONNX model (input ``X``)."""
    from onnx import AttributeProto, TensorProto, helper, numpy_helper

    trees = [estimator.tree_ for estimator in getattr(forest, "estimators_", [])]
    if not trees or forest.n_outputs_ != 1:
        raise ModelError("tree runtime needs a fitted single-output forest regressor")
    roots: list[int] = []
    parts: dict[str, list[npt.NDArray[Any]]] = {
        k: [] for k in ("feature", "split", "true_id", "true_leaf", "false_id", "false_leaf",
                        "weight")}  # fmt: skip
    nodes = leaves = 0
    for tree in trees:
        left, right = tree.children_left, tree.children_right
        is_leaf = left == -1
        inner, leaf = np.flatnonzero(~is_leaf), np.flatnonzero(is_leaf)
        index = np.empty(tree.node_count, dtype=np.int64)
        index[inner] = np.arange(inner.size) + nodes
        index[leaf] = np.arange(leaf.size) + leaves
        roots.append(nodes)
        if inner.size == 0:  # a one-leaf tree: a split whose both branches reach the leaf
            parts["feature"].append(np.zeros(1, dtype=np.int64))
            parts["split"].append(np.zeros(1))
            for side in ("true", "false"):
                parts[f"{side}_id"].append(np.array([leaves]))
                parts[f"{side}_leaf"].append(np.ones(1, dtype=np.int64))
            inner_count = 1
        else:
            for side, child in (("true", left[inner]), ("false", right[inner])):
                parts[f"{side}_id"].append(index[child])
                parts[f"{side}_leaf"].append(is_leaf[child].astype(np.int64))
            parts["feature"].append(tree.feature[inner].astype(np.int64))
            parts["split"].append(tree.threshold[inner].astype(np.float64))
            inner_count = inner.size
        parts["weight"].append(tree.value[leaf, 0, 0].astype(np.float64))
        nodes += inner_count
        leaves += leaf.size
    cat = {k: np.concatenate(v) for k, v in parts.items()}
    ensemble = helper.make_node(
        "TreeEnsemble", ["X32"], ["Y"], domain="ai.onnx.ml",
        aggregate_function=_AVERAGE, post_transform=_NONE, n_targets=1, tree_roots=roots,
    )  # fmt: skip
    # Millions of node attributes: filled in one call each (helper.make_attribute checks
    # every element in Python, ten times slower on the train2 forest's 2.6 million nodes).
    ints = {
        "nodes_featureids": cat["feature"], "nodes_truenodeids": cat["true_id"],
        "nodes_trueleafs": cat["true_leaf"], "nodes_falsenodeids": cat["false_id"],
        "nodes_falseleafs": cat["false_leaf"], "leaf_targetids": np.zeros(leaves, np.int64),
    }  # fmt: skip
    for name, values in ints.items():
        attribute = ensemble.attribute.add(name=name, type=AttributeProto.INTS)  # no copy
        attribute.ints.extend(values.tolist())
    tensors = {
        "nodes_splits": cat["split"], "leaf_weights": cat["weight"],
        "nodes_modes": np.full(nodes, _BRANCH_LEQ, dtype=np.uint8),
    }  # fmt: skip
    for name, array in tensors.items():
        attribute = ensemble.attribute.add(name=name, type=AttributeProto.TENSOR)
        attribute.t.CopyFrom(numpy_helper.from_array(array))
    width = int(forest.n_features_in_)
    graph = helper.make_graph(
        [
            helper.make_node("Cast", ["X"], ["Xf"], to=TensorProto.FLOAT),  # sklearn's float32
            helper.make_node("Cast", ["Xf"], ["X32"], to=TensorProto.DOUBLE),
            ensemble,
        ],
        "forest",
        [helper.make_tensor_value_info("X", TensorProto.DOUBLE, [None, width])],
        [helper.make_tensor_value_info("Y", TensorProto.DOUBLE, [None, 1])],
    )
    opsets = [helper.make_opsetid("", 21), helper.make_opsetid("ai.onnx.ml", 5)]
    return helper.make_model(graph, opset_imports=opsets, ir_version=IR_VERSION)


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


class CompiledForest:
    """A fitted forest's ``predict`` on ONNX Runtime, for 2-D float arrays of its inputs."""

    def __init__(self, forest: Any) -> None:
        self.n_features = int(forest.n_features_in_)
        self.session = session(forest_graph(forest))
        self.trees = len(forest.estimators_)

    def predict(self, x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        rows = np.asarray(x, dtype=np.float64)
        if rows.ndim != 2 or rows.shape[1] != self.n_features:
            raise ModelError(f"expected {self.n_features} features, got shape {rows.shape}")
        out = self.session.run(None, {"X": rows})[0]
        return np.asarray(out, dtype=np.float64).reshape(-1)


class CompiledPipeline:
    """``DerivedFeatures`` then a ``CompiledForest``; sklearn for rows it would route itself.

    Non-finite derived features go to sklearn, whose missing-value routing the graph does
    not replicate (validated finite inputs do not produce them).
    """

    #: Column order of ``predict_features`` and ``predict_row`` input.
    input_columns = FEATURES

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.features: DerivedFeatures = pipeline.steps[0][1]
        self.forest = CompiledForest(pipeline.steps[-1][1])
        self.names = [str(n) for n in self.features.get_feature_names_out()]

    def _sklearn(self, block: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        frame = pd.DataFrame(block, columns=list(FEATURES))
        return np.asarray(self.pipeline.predict(frame), dtype=np.float64)

    def predict(self, frame: pd.DataFrame) -> npt.NDArray[np.float64]:
        _, x = self.features.transform_array(frame)
        if not np.isfinite(x).all():
            return np.asarray(self.pipeline.predict(frame), dtype=np.float64)
        return self.forest.predict(x)

    def predict_features(self, block: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """``predict`` for a float64 array whose columns are ``FEATURES`` in order."""
        x = self.features.transform_features(block)
        if not np.isfinite(x).all():
            return self._sklearn(block)
        return self.forest.predict(x)

    def predict_row(self, row: list[float]) -> float:
        """One row of ``FEATURES`` values as plain floats: derived in Python, one ORT call."""
        derived = derived_row(row)
        x = [derived[name] for name in self.names]
        if not all(math.isfinite(v) for v in x):
            return float(self._sklearn(np.array([row]))[0])
        return float(self.forest.predict(np.array([x]))[0])


def compiled_predictor(pipeline: Any) -> CompiledPipeline | None:
    """A ``CompiledPipeline`` for our derived-features + forest-regressor pipelines, else None."""
    steps = getattr(pipeline, "steps", None)
    if not isinstance(pipeline, Pipeline) or not steps or len(steps) != 2:
        return None
    features, forest = steps[0][1], steps[1][1]
    if not isinstance(features, DerivedFeatures) or not isinstance(
        forest, RandomForestRegressor | ExtraTreesRegressor
    ):
        return None
    produced = getattr(features, "feature_names_out_", None)
    expected = getattr(forest, "feature_names_in_", None)
    if produced is None or expected is None or list(produced) != list(expected):
        return None
    if getattr(forest, "n_outputs_", 0) != 1:
        return None
    if not set(map(str, produced)) <= set(derived_row([0.0] * len(FEATURES))):
        return None  # fitted on a feature this code does not compute: sklearn names it
    try:
        return CompiledPipeline(pipeline)
    except ImportError as exc:  # an image without onnx/onnxruntime still serves, on sklearn
        log.warning("no compiled tree runtime (%s); scoring with sklearn", exc)
        return None
