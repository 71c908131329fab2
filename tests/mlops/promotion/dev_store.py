"""A tiny dev MLflow store for promotion tests: `taxi-fare` versions as register.py leaves them.

Each version is an MLflow sklearn model of a Pipeline over the 20 contract features,
with the lineage and metric tags register.py sets.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from taxi_fare.schema import FEATURES

NOISE = 1.0  # std of the cost noise: the honest RMSE of a good model is about this


def trips(rows: int, seed: int) -> pd.DataFrame:
    """Plausible trips: the 20 features and a ``cost`` with noise."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({name: rng.uniform(0.0, 1.0, rows) for name in FEATURES})
    frame["distance"] = rng.gamma(2.0, 1.6, rows)
    frame["passengers"] = rng.integers(1, 5, rows).astype(float)
    frame["cost"] = 3.0 + 2.5 * frame["distance"] + rng.normal(0.0, NOISE, rows)
    return frame


def register(
    tracking_uri: str, artifact_root: str, offset: float, tags: dict[str, str] | None = None
) -> int:
    """Fit, log and register one version; ``tags`` override the honest metric tags."""
    import mlflow
    from mlflow import MlflowClient
    from mlflow.models import infer_signature
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    from taxi_fare.metrics import regression_metrics

    train, test = trips(300, 1), trips(200, 2)
    x = train[list(FEATURES)]
    pipe = Pipeline([("scale", StandardScaler()), ("reg", Ridge(alpha=1e-3))])
    pipe.fit(x, train["cost"] + offset)
    metrics = regression_metrics(test["cost"], pipe.predict(test[list(FEATURES)]))
    client = MlflowClient(tracking_uri, tracking_uri)
    experiment = client.get_experiment_by_name("taxi-fare-training")
    experiment_id = (
        experiment.experiment_id
        if experiment
        else client.create_experiment("taxi-fare-training", artifact_location=artifact_root)
    )
    import os

    # set_registry_uri exports MLFLOW_REGISTRY_URI and set_registry_uri(None) leaves it
    # behind: save and restore both variables so later tests see their own stores.
    saved = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    try:
        with mlflow.start_run(experiment_id=experiment_id) as run:
            info = mlflow.sklearn.log_model(
                pipe,
                name="model",
                signature=infer_signature(x.head(5), pipe.predict(x.head(5))),
                serialization_format="cloudpickle",
                pip_requirements=["scikit-learn", "pandas"],
            )
        version = client.create_model_version(
            "taxi-fare" if _exists(client) else _create(client),
            info.model_uri,
            run_id=run.info.run_id,
            tags={
                "git_commit": "0123abc",
                "data_fingerprint": f"fp-{offset}",
                "pipeline_run_id": run.info.run_id,
                "trainer": "rf",
                **{k: repr(v) for k, v in metrics.items()},
                **(tags or {}),
            },
        )
    finally:
        mlflow.set_tracking_uri(None)
        mlflow.set_registry_uri(None)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return int(version.version)


def _exists(client: object) -> bool:
    try:
        client.get_registered_model("taxi-fare")  # type: ignore[attr-defined]
    except Exception:
        return False
    return True


def _create(client: object) -> str:
    client.create_registered_model("taxi-fare")  # type: ignore[attr-defined]
    return "taxi-fare"


def build(home: Path) -> None:
    """Dev store under ``home``: v1 with over-optimistic metric tags (fails stage), v2, v3."""
    import os

    os.environ["MLOPS_HOME"] = str(home)
    from mlops import settings

    settings.store_dir("dev").mkdir(parents=True, exist_ok=True)
    uri, root = settings.tracking_uri("dev"), settings.artifact_root("dev")
    register(uri, root, 0.0, {"root_mean_squared_error": "0.001", "mean_absolute_error": "0.001"})
    register(uri, root, 0.0)
    register(uri, root, 0.2)
