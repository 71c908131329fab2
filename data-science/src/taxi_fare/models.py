"""Model pipelines, the Azure AutoML -> FLAML mapping, and saving/loading MLflow models."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.ensemble import RandomForestRegressor
from sklearn.pipeline import Pipeline

from taxi_fare.errors import TaxiFareError
from taxi_fare.features import DerivedFeatures
from taxi_fare.schema import FEATURES

if TYPE_CHECKING:
    from mlflow.models import ModelSignature
    from mlflow.pyfunc import PyFuncModel

log = logging.getLogger(__name__)

PACKAGE_DIR = Path(__file__).resolve().parent
MODEL_REQUIREMENTS = PACKAGE_DIR / "model-requirements.txt"

#: Azure AutoML regression algorithm names -> FLAML estimator names (those installed here).
#: GradientBoosting maps to sklearn's histogram gradient boosting, FLAML's closest learner.
AZURE_ALGORITHMS: dict[str, str] = {
    "lightgbm": "lgbm",
    "randomforest": "rf",
    "extremerandomtrees": "extra_tree",
    "gradientboosting": "histgb",
}
#: Azure AutoML regression primary metrics -> FLAML metric. Normalising by the target's
#: range does not change which model is best, so the normalised variants map to the plain one.
AZURE_METRICS: dict[str, str] = {
    "normalized_root_mean_squared_error": "rmse",
    "root_mean_squared_error": "rmse",
    "normalized_mean_absolute_error": "mae",
    "mean_absolute_error": "mae",
    "r2_score": "r2",
    "spearman_correlation": "spearman",
}


class ModelError(TaxiFareError):
    """A training setting or a model folder is not usable."""


def flaml_estimators(allowed: str | Iterable[str]) -> list[str]:
    """FLAML estimator list from Azure names (comma-separated or a list), order kept."""
    names = [n.strip() for n in allowed.split(",")] if isinstance(allowed, str) else list(allowed)
    names = [n for n in names if n]
    if not names:
        raise ModelError(
            "allowed_algorithms is empty: name at least one of " + ", ".join(AZURE_DISPLAY_NAMES)
        )
    out: list[str] = []
    for name in names:
        key = name.lower()
        if key not in AZURE_ALGORITHMS:
            raise ModelError(
                f"allowed_algorithms: {name!r} has no local equivalent; "
                f"supported: {', '.join(AZURE_DISPLAY_NAMES)}"
            )
        if AZURE_ALGORITHMS[key] not in out:
            out.append(AZURE_ALGORITHMS[key])
    return out


AZURE_DISPLAY_NAMES = ("LightGBM", "RandomForest", "ExtremeRandomTrees", "GradientBoosting")


def spearman_loss(
    X_val: pd.DataFrame,  # noqa: N803 (FLAML's signature)
    y_val: pd.Series | np.ndarray,
    estimator: Any,
    *args: Any,
    **kwargs: Any,
) -> tuple[float, dict[str, float]]:
    """FLAML custom metric: 1 - Spearman rank correlation (lower is better)."""
    predicted = pd.Series(estimator.predict(X_val)).rank().to_numpy()
    actual = pd.Series(np.asarray(y_val)).rank().to_numpy()
    rho = float(np.corrcoef(actual, predicted)[0, 1]) if np.std(predicted) > 0 else 0.0
    return 1.0 - rho, {"spearman_correlation": rho}


def flaml_metric(primary_metric: str) -> str | Callable[..., tuple[float, dict]]:
    """FLAML ``metric`` argument for an Azure primary metric name."""
    if primary_metric not in AZURE_METRICS:
        raise ModelError(
            f"primary_metric: {primary_metric!r} is not an Azure AutoML regression metric; "
            f"supported: {', '.join(AZURE_METRICS)}"
        )
    mapped = AZURE_METRICS[primary_metric]
    return spearman_loss if mapped == "spearman" else mapped


def random_forest_pipeline(
    n_estimators: int = 200,
    max_depth: int | None = 16,
    min_samples_leaf: int = 2,
    min_samples_split: int = 4,
    max_features: float | str = 0.6,
    seed: int = 42,
) -> Pipeline:
    """The train2 model: derived features, then a RandomForest."""
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
    pipeline: Pipeline, folder: Path, sample: pd.DataFrame, metadata: dict[str, str]
) -> None:
    """Save a fitted pipeline as an MLflow sklearn model that loads anywhere.

    cloudpickle rather than MLflow 3's default skops: skops would need every type in
    the pipeline (our transformer, LightGBM's booster) declared as trusted.
    ``code_paths`` ships the taxi_fare package so the derived-feature stage unpickles
    without this repository.
    """
    from mlflow.models import infer_signature

    check_output_folder(folder)
    example = sample.loc[:, list(FEATURES)].astype("float64").head(5).reset_index(drop=True)
    signature = infer_signature(example, pipeline.predict(example))
    # MLflow warns on every cloudpickle save; the choice is deliberate (see above).
    quiet = logging.getLogger("mlflow.sklearn")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        _save(pipeline, folder, example, signature, metadata)
    finally:
        quiet.setLevel(level)
    log.info("saved MLflow model to %s", folder)


def _save(
    pipeline: Pipeline,
    folder: Path,
    example: pd.DataFrame,
    signature: ModelSignature,
    metadata: dict[str, str],
) -> None:
    import mlflow.sklearn

    mlflow.sklearn.save_model(
        pipeline,
        str(folder),
        serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_CLOUDPICKLE,
        code_paths=[str(PACKAGE_DIR)],
        pip_requirements=str(MODEL_REQUIREMENTS),
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


def model_uuid(folder: str | Path) -> str:
    """The ``model_uuid`` MLflow wrote into the folder's MLmodel file: the model's identity."""
    import yaml

    path = Path(folder) / "MLmodel"
    try:
        uuid = yaml.safe_load(path.read_text(encoding="utf-8")).get("model_uuid")
    except (OSError, yaml.YAMLError, AttributeError) as exc:
        raise ModelError(f"{folder}: not an MLflow model ({path.name} unreadable: {exc})") from None
    if not isinstance(uuid, str) or not uuid:
        raise ModelError(f"{path}: has no model_uuid; save the model with MLflow")
    return uuid


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
