"""Fitted tree models as ONNX ``TreeEnsemble`` nodes, read from the models' own arrays.

Three families, the ones the trainers produce: sklearn forests (train2, AutoML's rf and
extra_tree), LightGBM (AutoML's lgbm) and sklearn's histogram gradient boosting (AutoML's
histgb). Each becomes a list of ``TreeTable`` (sklearn's node layout), then one
``ai.onnx.ml`` ``TreeEnsemble`` node (opset 5, the first with double thresholds and leaf
values) reading the graph's double input, that reproduces the model's own ``predict`` bit
for bit on finite inputs:

- sklearn forests cast the input to float32 (sklearn's tree ``DTYPE``), compare with the
  double thresholds and average the double leaf values in estimator order
  (sklearn/ensemble/_forest.py ForestRegressor.predict, ``n_jobs=1``). The cast is folded
  into the thresholds (``float32_splits``) rather than run as two ``Cast`` kernels on every
  call (2-3 us of a 20-30 us one-row call, measured in one process);
- LightGBM compares the double input with its double thresholds (``fval <= threshold``,
  LightGBM include/LightGBM/tree.h Tree::NumericalDecision) and sums the leaf outputs in
  tree order starting from 0 (src/boosting/gbdt_prediction.cpp GBDT::PredictRaw); the
  average from the training data is already in the first tree's leaves;
- HistGradientBoosting starts from its baseline and adds each tree's value in order
  (sklearn/ensemble/_hist_gradient_boosting/gradient_boosting.py ``_raw_predict``); the
  baseline is folded into the first tree's leaves, ``b + v`` being the same double sum.

What the graph does not model is refused with a ``ModelError`` (the caller then serves the
model with its own library): categorical or zero-as-missing splits, linear trees, and
objectives whose output is not the raw score. Missing-value routing is irrelevant here:
the serving payload admits finite numbers only, and derived features of finite inputs are
finite (checked per request by the caller).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from taxi_fare.models import ModelError

if TYPE_CHECKING:
    import onnx

#: ONNX IR version written: the newest ONNX Runtime 1.31 reads (the onnx package's own
#: default, 14, is newer than that).
IR_VERSION = 10
_AVERAGE, _SUM = 0, 1  # TreeEnsemble aggregate_function
_NONE = 0  # TreeEnsemble post_transform
_BRANCH_LEQ = 0  # TreeEnsemble nodes_modes: go to the true branch when x <= threshold
#: LightGBM objectives whose prediction is the raw score (no link function).
LIGHTGBM_IDENTITY_OBJECTIVES = frozenset(
    {"regression", "regression_l1", "huber", "fair", "quantile", "mape"}
)
#: HistGradientBoostingRegressor losses with the identity link.
HISTGB_IDENTITY_LOSSES = frozenset({"squared_error", "absolute_error", "quantile"})


@dataclass(frozen=True)
class TreeTable:
    """One tree in sklearn's layout: per node its split and children (-1 at a leaf)."""

    feature: npt.NDArray[np.int64]
    threshold: npt.NDArray[np.float64]
    left: npt.NDArray[np.int64]
    right: npt.NDArray[np.int64]
    value: npt.NDArray[np.float64]  # the leaf's output; unused at inner nodes


@dataclass(frozen=True)
class Member:
    """One model's trees and how its prediction combines them."""

    trees: list[TreeTable]
    average: bool  # mean of the trees (forests), else their sum (boosting)
    float32_inputs: bool  # sklearn trees compare float32 inputs
    n_features: int
    kind: str


def sklearn_forest(forest: Any) -> Member:
    """A fitted single-output sklearn forest regressor (RandomForest, ExtraTrees)."""
    estimators = getattr(forest, "estimators_", None)
    if not estimators or getattr(forest, "n_outputs_", 0) != 1:
        raise ModelError("tree runtime needs a fitted single-output forest regressor")
    trees = [
        TreeTable(
            feature=t.feature.astype(np.int64),
            threshold=t.threshold.astype(np.float64),
            left=t.children_left.astype(np.int64),
            right=t.children_right.astype(np.int64),
            value=t.value[:, 0, 0].astype(np.float64),
        )
        for t in (e.tree_ for e in estimators)
    ]
    return Member(trees, True, True, int(forest.n_features_in_), type(forest).__name__)


def lightgbm_model(model: Any) -> Member:
    """A fitted ``lightgbm.LGBMRegressor`` with numerical splits and an identity output."""
    booster = getattr(model, "booster_", None) if hasattr(model, "fitted_") else None
    if booster is None:
        raise ModelError("tree runtime needs a fitted LGBMRegressor")
    # num_iteration=None: the best iteration if early stopping set one, as predict() uses.
    dump = booster.dump_model(num_iteration=None)
    objective = str(dump.get("objective", "")).split(" ")[0]
    if objective not in LIGHTGBM_IDENTITY_OBJECTIVES:
        raise ModelError(f"LightGBM objective {objective!r} is not an identity output")
    if dump.get("num_tree_per_iteration", 1) != 1 or dump.get("average_output"):
        raise ModelError("LightGBM model is multi-output or averages its trees (rf mode)")
    trees = [_lightgbm_tree(info["tree_structure"]) for info in dump["tree_info"]]
    if not trees:
        raise ModelError("LightGBM model has no trees")
    return Member(trees, False, False, int(dump["max_feature_idx"]) + 1, "LGBMRegressor")


def _lightgbm_tree(root: dict[str, Any]) -> TreeTable:
    """LightGBM's nested JSON tree as arrays, nodes numbered depth first from the root."""
    feature: list[int] = []
    threshold: list[float] = []
    left: list[int] = []
    right: list[int] = []
    value: list[float] = []
    pending: list[tuple[dict[str, Any], int, bool]] = [(root, -1, False)]
    while pending:
        node, parent, is_right = pending.pop()
        index = len(feature)
        if parent >= 0:
            (right if is_right else left)[parent] = index
        if "split_index" not in node:
            feature.append(0)
            threshold.append(0.0)
            left.append(-1)
            right.append(-1)
            value.append(float(node["leaf_value"]))
            continue
        if node.get("decision_type") != "<=" or node.get("missing_type") not in ("None", "NaN"):
            raise ModelError(
                "LightGBM split is categorical or treats zero as missing "
                f"(decision_type {node.get('decision_type')!r}, "
                f"missing_type {node.get('missing_type')!r})"
            )
        feature.append(int(node["split_feature"]))
        threshold.append(float(node["threshold"]))
        left.append(-1)
        right.append(-1)
        value.append(0.0)
        # The right child first onto the stack, so the left one is numbered next.
        pending.append((node["right_child"], index, True))
        pending.append((node["left_child"], index, False))
    return TreeTable(
        np.array(feature, dtype=np.int64),
        np.array(threshold, dtype=np.float64),
        np.array(left, dtype=np.int64),
        np.array(right, dtype=np.int64),
        np.array(value, dtype=np.float64),
    )


def histgb_model(model: Any) -> Member:
    """A fitted ``HistGradientBoostingRegressor`` with numerical features, identity link."""
    predictors = getattr(model, "_predictors", None)
    if not predictors:
        raise ModelError("tree runtime needs a fitted HistGradientBoostingRegressor")
    if getattr(model, "loss", None) not in HISTGB_IDENTITY_LOSSES:
        raise ModelError(f"HistGradientBoosting loss {model.loss!r} is not an identity link")
    if getattr(model, "_preprocessor", None) is not None or model.n_trees_per_iteration_ != 1:
        raise ModelError("HistGradientBoosting model has categorical features or several outputs")
    baseline = float(np.asarray(model._baseline_prediction, dtype=np.float64).reshape(-1)[0])
    trees = []
    for position, (predictor,) in enumerate(predictors):
        nodes = predictor.nodes
        if nodes["is_categorical"].any():
            raise ModelError("HistGradientBoosting model has categorical splits")
        leaf = nodes["is_leaf"].astype(bool)
        value = nodes["value"].astype(np.float64)
        if position == 0:
            value = np.where(leaf, baseline + value, value)
        trees.append(
            TreeTable(
                feature=nodes["feature_idx"].astype(np.int64),
                threshold=nodes["num_threshold"].astype(np.float64),
                left=np.where(leaf, -1, nodes["left"].astype(np.int64)),
                right=np.where(leaf, -1, nodes["right"].astype(np.int64)),
                value=value,
            )
        )
    return Member(trees, False, False, int(model.n_features_in_), "HistGradientBoostingRegressor")


def member_of(model: Any) -> Member:
    """The ``Member`` of one fitted regressor; a ModelError for a kind this module lacks."""
    from sklearn.ensemble import (
        ExtraTreesRegressor,
        HistGradientBoostingRegressor,
        RandomForestRegressor,
    )

    if isinstance(model, RandomForestRegressor | ExtraTreesRegressor):
        return sklearn_forest(model)
    if isinstance(model, HistGradientBoostingRegressor):
        return histgb_model(model)
    if type(model).__name__ == "LGBMRegressor" and type(model).__module__.startswith("lightgbm"):
        return lightgbm_model(model)
    raise ModelError(f"tree runtime has no graph for {type(model).__name__}")


def float32_splits(threshold: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Double thresholds ``u`` with ``x <= u`` exactly when ``float32(x) <= threshold``.

    ``float32(x) <= t`` holds when ``x`` rounds to ``T``, the largest float32 not above
    ``t``, or below it. Round to nearest sends ``x`` to ``T`` or below when ``x`` is below
    the midpoint ``m`` between ``T`` and the next float32 (exact in double: the two share
    an exponent or differ by one, within double's 53 bits), and at ``m`` itself when ``T``'s
    last significand bit is even (ties to even). So ``u`` is ``m``, or the double just below
    ``m`` when ``T`` is odd. Thresholds beyond float32's range are refused.
    """
    t = np.asarray(threshold, dtype=np.float64)
    if not np.isfinite(t).all() or (np.abs(t) >= float(np.finfo(np.float32).max)).any():
        raise ModelError("a forest threshold is beyond float32's range")
    low = t.astype(np.float32)  # nearest float32; one step down where that is above t
    above = low.astype(np.float64) > t
    low[above] = np.nextafter(low[above], np.float32(-np.inf))
    high = np.nextafter(low, np.float32(np.inf))
    midpoint = (low.astype(np.float64) + high.astype(np.float64)) / 2.0
    odd = (low.view(np.uint32) & 1).astype(bool)
    return np.where(odd, np.nextafter(midpoint, -np.inf), midpoint)


def ensemble_node(member: Member, source: str, output: str) -> onnx.NodeProto:
    """One ``TreeEnsemble`` node computing ``member``'s prediction from the double ``source``."""
    from onnx import AttributeProto, helper, numpy_helper

    roots: list[int] = []
    parts: dict[str, list[npt.NDArray[Any]]] = {
        k: [] for k in ("feature", "split", "true_id", "true_leaf", "false_id", "false_leaf",
                        "weight")}  # fmt: skip
    nodes = leaves = 0
    for tree in member.trees:
        is_leaf = tree.left == -1
        inner, leaf = np.flatnonzero(~is_leaf), np.flatnonzero(is_leaf)
        index = np.empty(len(tree.left), dtype=np.int64)
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
            for side, child in (("true", tree.left[inner]), ("false", tree.right[inner])):
                parts[f"{side}_id"].append(index[child])
                parts[f"{side}_leaf"].append(is_leaf[child].astype(np.int64))
            parts["feature"].append(tree.feature[inner])
            split = tree.threshold[inner]
            parts["split"].append(float32_splits(split) if member.float32_inputs else split)
            inner_count = inner.size
        parts["weight"].append(tree.value[leaf])
        nodes += inner_count
        leaves += leaf.size
    cat = {k: np.concatenate(v) for k, v in parts.items()}
    node = helper.make_node(
        "TreeEnsemble", [source], [output], domain="ai.onnx.ml",
        aggregate_function=_AVERAGE if member.average else _SUM, post_transform=_NONE,
        n_targets=1, tree_roots=roots,
    )  # fmt: skip
    # Millions of node attributes: filled in one call each (helper.make_attribute checks
    # every element in Python, ten times slower on the train2 forest's 2.6 million nodes).
    ints = {
        "nodes_featureids": cat["feature"], "nodes_truenodeids": cat["true_id"],
        "nodes_trueleafs": cat["true_leaf"], "nodes_falsenodeids": cat["false_id"],
        "nodes_falseleafs": cat["false_leaf"], "leaf_targetids": np.zeros(leaves, np.int64),
    }  # fmt: skip
    for name, values in ints.items():
        attribute = node.attribute.add(name=name, type=AttributeProto.INTS)  # no copy
        attribute.ints.extend(values.tolist())
    tensors = {
        "nodes_splits": cat["split"], "leaf_weights": cat["weight"],
        "nodes_modes": np.full(nodes, _BRANCH_LEQ, dtype=np.uint8),
    }  # fmt: skip
    for name, array in tensors.items():
        attribute = node.attribute.add(name=name, type=AttributeProto.TENSOR)
        attribute.t.CopyFrom(numpy_helper.from_array(array))
    return node


def members_graph(members: list[Member]) -> onnx.ModelProto:
    """An ONNX model from input ``X`` (double, one column per feature) to ``Y``: one column
    per member, each that member's own prediction."""
    from onnx import TensorProto, helper

    widths = {m.n_features for m in members}
    if not members or len(widths) != 1:
        raise ModelError(f"members must share one input width, got {sorted(widths)}")
    outputs = [f"Y{i}" for i in range(len(members))] if len(members) > 1 else ["Y"]
    nodes = [ensemble_node(m, "X", out) for m, out in zip(members, outputs, strict=True)]
    if len(members) > 1:
        nodes.append(helper.make_node("Concat", outputs, ["Y"], axis=1))
    graph = helper.make_graph(
        nodes,
        "trees",
        [helper.make_tensor_value_info("X", TensorProto.DOUBLE, [None, widths.pop()])],
        [helper.make_tensor_value_info("Y", TensorProto.DOUBLE, [None, len(members)])],
    )
    opsets = [helper.make_opsetid("", 21), helper.make_opsetid("ai.onnx.ml", 5)]
    return helper.make_model(graph, opset_imports=opsets, ir_version=IR_VERSION)
