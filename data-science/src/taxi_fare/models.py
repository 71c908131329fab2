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
