"""Model pipelines and saving/loading MLflow models (the AutoML tables are in taxi_fare.automl)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.ensemble import RandomForestRegressor
from sklearn.pipeline import Pipeline

from taxi_fare.errors import TaxiFareError
from taxi_fare.features import DerivedFeatures
from taxi_fare.forest_params import RF_DEFAULTS
from taxi_fare.schema import FEATURES

if TYPE_CHECKING:
    from mlflow.models import ModelSignature
    from mlflow.pyfunc import PyFuncModel

log = logging.getLogger(__name__)

PACKAGE_DIR = Path(__file__).resolve().parent
MODEL_REQUIREMENTS = PACKAGE_DIR / "model-requirements.txt"


class ModelError(TaxiFareError):
    """A training setting or a model folder is not usable."""


def random_forest_pipeline(
    n_estimators: int = RF_DEFAULTS.n_estimators,
    max_depth: int | None = RF_DEFAULTS.max_depth,
    min_samples_leaf: int = RF_DEFAULTS.min_samples_leaf,
    min_samples_split: int = RF_DEFAULTS.min_samples_split,
    max_features: float | str = RF_DEFAULTS.max_features,
    seed: int = RF_DEFAULTS.seed,
) -> Pipeline:
    """The train2 model: derived features, then a RandomForest (defaults: ``RF_DEFAULTS``)."""
    forest = RandomForestRegressor(
        n_estimators=n_estimators,
        max_depth=max_depth,
        min_samples_leaf=min_samples_leaf,
        min_samples_split=min_samples_split,
        max_features=max_features,
        random_state=seed,
        n_jobs=-1,
    )
    return Pipeline([("features", DerivedFeatures()), ("model", forest)])


def pipeline_with(estimator: Any) -> Pipeline:
    """A fresh (unfitted) Pipeline with the derived-feature stage and a clone of ``estimator``."""
    return Pipeline([("features", DerivedFeatures()), ("model", clone(estimator))])


def check_output_folder(folder: Path) -> None:
    """MLflow refuses to save into a used folder: say so before training, not after."""
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise ModelError(f"{folder}: model_output folder is not empty")


def save_model(
    pipeline: Any,
    folder: Path,
    sample: pd.DataFrame,
    metadata: dict[str, str],
    columns: Sequence[str] = FEATURES,
    requirements: str | Path = MODEL_REQUIREMENTS,
) -> None:
    """Save a fitted pipeline as an MLflow sklearn model that loads anywhere.

    cloudpickle rather than MLflow 3's default skops: skops would need every type in
    the pipeline (our transformer, LightGBM's booster) declared as trusted.
    ``code_paths`` ships the taxi_fare package so the derived-feature stage unpickles
    without this repository. ``columns`` is the signature (the 20 features, or the
    derived ones for the AutoML stand-in's best model); ``requirements`` a pip
    requirements file (the packaged AutoML model keeps its best model's).
    """
    from mlflow.models import infer_signature

    check_output_folder(folder)
    example = sample.loc[:, list(columns)].astype("float64").head(5).reset_index(drop=True)
    signature = infer_signature(example, pipeline.predict(example))
    # MLflow warns on every cloudpickle save; the choice is deliberate (see above).
    quiet = logging.getLogger("mlflow.sklearn")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        _save(pipeline, folder, example, signature, metadata, requirements)
    finally:
        quiet.setLevel(level)
    log.info("saved MLflow model to %s", folder)


def _save(
    pipeline: Pipeline,
    folder: Path,
    example: pd.DataFrame,
    signature: ModelSignature,
    metadata: dict[str, str],
    requirements: str | Path,
) -> None:
    import mlflow.sklearn

    mlflow.sklearn.save_model(
        pipeline,
        str(folder),
        serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_CLOUDPICKLE,
        code_paths=[str(PACKAGE_DIR)],
        pip_requirements=str(requirements),
        signature=signature,
        input_example=example,
        metadata=metadata,
    )


def load_model(folder: str | Path) -> PyFuncModel:
    """Load an MLflow model folder as pyfunc; a folder that is not one is a ``ModelError``."""
    import mlflow.pyfunc

    path = Path(folder)
    if not (path / "MLmodel").is_file():
        raise ModelError(f"{path}: not an MLflow model (no MLmodel file)")
    try:
        return mlflow.pyfunc.load_model(str(path))
    except Exception as exc:  # MLflow raises many types for a broken model folder
        raise ModelError(f"{path}: cannot load MLflow model: {exc}") from exc


def load_model_uri(uri: str) -> PyFuncModel:
    """Load a model by MLflow URI (``models:/name/3``)."""
    import mlflow.pyfunc

    return mlflow.pyfunc.load_model(uri)


def feature_importance(pipeline: Pipeline) -> pd.Series | None:
    """Importances of the model stage by derived-feature name, largest first, if it has any."""
    model = pipeline.named_steps.get("model")
    values = getattr(model, "feature_importances_", None)
    if values is None:
        return None
    names = pipeline.named_steps["features"].get_feature_names_out()
    series = pd.Series(np.asarray(values, dtype="float64"), index=names)
    if series.sum() > 0:
        series = series / series.sum()
    return series.sort_values(ascending=False)


class PackedForest:
    """A fitted forest regressor's trees in flat arrays, walked for all trees at once.

    sklearn predicts tree by tree through joblib: on a one-row request that per-tree
    machinery costs about 100 times the tree walks themselves. Here the walk is a few
    numpy operations per tree level over every tree together. The result equals sklearn's
    ``predict`` with ``n_jobs=1``: inputs are rounded to float32 as sklearn does, each
    tree's leaf value is summed in estimator order, and the sum is divided by the count.
    Meant for small requests; large ones go to sklearn, whose memory use stays flat.
    """

    def __init__(self, forest: Any) -> None:
        trees = [estimator.tree_ for estimator in forest.estimators_]
        if not trees or forest.n_outputs_ != 1:
            raise ModelError("PackedForest needs a fitted single-output forest regressor")
        sizes = np.array([t.node_count for t in trees])
        offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        left, right, feature, threshold, value = [], [], [], [], []
        for tree, offset in zip(trees, offsets, strict=True):
            own = np.arange(tree.node_count) + offset
            leaf = tree.children_left == -1
            # A leaf points at itself, so walking past it keeps the row on the leaf.
            left.append(np.where(leaf, own, tree.children_left + offset))
            right.append(np.where(leaf, own, tree.children_right + offset))
            feature.append(np.where(leaf, 0, tree.feature))
            threshold.append(np.where(leaf, np.inf, tree.threshold))
            value.append(tree.value[:, 0, 0])
        self.left = np.concatenate(left).astype(np.intp)
        self.right = np.concatenate(right).astype(np.intp)
        self.feature = np.concatenate(feature).astype(np.intp)
        self.threshold = np.concatenate(threshold).astype("float64")
        self.value = np.concatenate(value).astype("float64")
        self.roots = offsets.astype(np.intp)
        # child[2 * node + went_left]: one gather per level on the single-row path.
        self.child = np.stack([self.right, self.left], axis=1).reshape(-1)
        self.depth = max(int(t.max_depth) for t in trees)
        self.n_features = int(forest.n_features_in_)

    def predict(self, X: np.ndarray) -> np.ndarray:  # noqa: N803 (sklearn naming)
        """Predictions for the rows of a 2-D float array in the forest's feature order."""
        rows = np.asarray(X, dtype=np.float32).astype("float64")
        if rows.ndim != 2 or rows.shape[1] != self.n_features:
            raise ModelError(f"expected {self.n_features} features, got shape {rows.shape}")
        if rows.shape[0] == 1:  # an online request: the fewest numpy calls per tree level
            row, node = rows[0], self.roots.copy()
            for _ in range(self.depth):
                node = self.child[2 * node + (row[self.feature[node]] <= self.threshold[node])]
            return np.cumsum(self.value[node])[-1:] / self.roots.size
        flat = rows.reshape(-1)
        base = (np.arange(rows.shape[0], dtype=np.intp) * self.n_features)[:, None]
        node = np.broadcast_to(self.roots, (rows.shape[0], self.roots.size)).copy()
        for _ in range(self.depth):
            go_left = flat[base + self.feature[node]] <= self.threshold[node]
            node = np.where(go_left, self.left[node], self.right[node])
        # cumsum adds strictly left to right: the same rounding as sklearn's running total.
        return np.cumsum(self.value[node], axis=1)[:, -1] / self.roots.size


class FastPipeline:
    """``DerivedFeatures`` then a ``PackedForest`` for small requests; sklearn otherwise."""

    #: Above this many rows the (rows x trees) index arrays stop paying off.
    MAX_PACKED_ROWS = 256

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.features = pipeline.steps[0][1]
        self.forest = PackedForest(pipeline.steps[-1][1])

    #: Column order of ``predict_features`` input.
    input_columns = FEATURES

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        if len(frame) > self.MAX_PACKED_ROWS:
            return self.pipeline.predict(frame)
        _, x = self.features.transform_array(frame)
        if not np.isfinite(x).all():  # sklearn's missing-value routing is not replicated
            return self.pipeline.predict(frame)
        return self.forest.predict(x)

    def predict_features(self, block: np.ndarray) -> np.ndarray:
        """``predict`` for a float64 array whose columns are ``FEATURES`` in order."""
        if len(block) > self.MAX_PACKED_ROWS:
            return self.pipeline.predict(pd.DataFrame(block, columns=list(FEATURES)))
        x = self.features.transform_features(block)
        if not np.isfinite(x).all():
            return self.pipeline.predict(pd.DataFrame(block, columns=list(FEATURES)))
        return self.forest.predict(x)


def fast_predictor(pipeline: Any) -> FastPipeline | None:
    """A ``FastPipeline`` for our derived-features + forest-regressor pipelines, else None."""
    from sklearn.ensemble import ExtraTreesRegressor

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
    return FastPipeline(pipeline)
