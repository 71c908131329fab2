"""Issue 12 #9: the MLflow calls the steps make stay on the MLflow 2 REST surface Azure ML serves.

Azure ML's tracking server does not serve MLflow 3's logged-model API (``/mlflow/logged-models``;
``log_model`` answers 404 there). The steps never call ``log_model``; this test runs the three
registry calls they do make, with MLflow 3.17, and fails if any reaches a logged-model method:

- ``mlflow.register_model("runs:/<run>/model", ...)`` (taxi_fare/registry.py:register):
  mlflow/tracking/_model_registry/fluent.py:_register_model takes the run's artifact
  location as the source when ``<run>/model/MLmodel`` exists (register.py logs the folder
  there first), so ``model_id`` stays None and only CreateRegisteredModel,
  CreateModelVersion and GetModelVersion (the READY wait) are sent
  (mlflow/store/model_registry/rest_store.py; azureml-mlflow 1.60
  azureml/mlflow/_store/model_registry/model_registry.py:AzureMLflowModelRegistry passes
  them through to that RestStore).
- ``MlflowClient().search_model_versions("name='...'")`` (taxi_fare/registry.py:versions):
  a pass-through to RestStore.search_model_versions (SearchModelVersions).
- ``mlflow.pyfunc.load_model("models:/<name>/<version>")`` (taxi_fare/models.py:load_model_uri):
  mlflow/store/artifact/models_artifact_repo.py:ModelsArtifactRepository._get_model_uri_infos
  calls ``get_model_version_download_uri`` for a name/version URI (``get_logged_model`` only
  for ``models:/<model_id>``), then downloads through the ``azureml`` artifact repository.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

LOGGED_MODEL_METHODS = (
    "_record_logged_model",
    "create_logged_model",
    "finalize_logged_model",
    "get_logged_model",
    "search_logged_models",
    "set_logged_model_tags",
    "list_logged_model_artifacts",
)


@pytest.fixture
def tracking(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """A sqlite tracking store with every logged-model entry point turned into a tripwire."""
    from mlflow.tracking._model_registry import fluent
    from mlflow.tracking._model_registry import utils as registry_utils
    from mlflow.tracking._tracking_service import utils as tracking_utils
    from mlflow.tracking._tracking_service.client import TrackingServiceClient

    called: list[str] = []

    def tripwire(name: str):
        def hit(*args: object, **kwargs: object) -> None:
            called.append(name)
            raise AssertionError(f"MLflow logged-model API called: {name}")

        return hit

    for name in LOGGED_MODEL_METHODS:
        monkeypatch.setattr(TrackingServiceClient, name, tripwire(name))
    monkeypatch.setattr(fluent, "_get_logged_models_from_run", tripwire("logged models of a run"))
    uri = (tmp_path / "mlruns").as_uri()  # the file store: no database migrations to wait for
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    # The module globals behind set_tracking_uri/set_registry_uri, restored after the test.
    monkeypatch.setattr(tracking_utils, "_tracking_uri", uri)
    monkeypatch.setattr(registry_utils, "_registry_uri", uri)
    yield called


def test_register_search_and_load_never_touch_logged_models(
    tracking: list[str], tmp_path: Path
) -> None:
    import mlflow
    import mlflow.sklearn
    import numpy as np
    from mlflow import MlflowClient
    from sklearn.dummy import DummyRegressor
    from taxi_fare.models import load_model_uri
    from taxi_fare.registry import register, versions

    folder = tmp_path / "model"
    fitted = DummyRegressor(strategy="constant", constant=12.5).fit(np.zeros((3, 1)), [1, 2, 3])
    mlflow.sklearn.save_model(
        fitted,
        str(folder),
        serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_CLOUDPICKLE,
        pip_requirements=["scikit-learn"],  # given, so MLflow does not infer them in a subprocess
    )
    with mlflow.start_run() as run:
        mlflow.log_artifacts(str(folder), artifact_path="model")  # as register.py does
        version = register(f"runs:/{run.info.run_id}/model", "taxi-fare", {"trainer": "rf"})
    assert version.version == 1
    found = versions(MlflowClient(), "taxi-fare")
    assert [(v.version, v.tags["trainer"]) for v in found] == [(1, "rf")]
    predicted = load_model_uri(found[0].uri).predict(np.zeros((2, 1)))
    assert list(predicted) == [12.5, 12.5]
    assert tracking == []


def test_the_tripwire_fires_on_a_logged_model_call(tracking: list[str]) -> None:
    from mlflow import MlflowClient

    with pytest.raises(AssertionError, match="get_logged_model"):
        MlflowClient().get_logged_model("m-123")
    assert tracking == ["get_logged_model"]
