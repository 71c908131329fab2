"""Shared fixtures for the step library and step scripts: tiny generated data, MLflow stores."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def raw_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """600 generated trips (green + yellow), seed 7."""
    from mlops.datagen.generator import generate

    folder = tmp_path_factory.mktemp("raw")
    generate(600, folder, seed=7, files_per_kind=1)
    return folder


@pytest.fixture(scope="session")
def empty_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An initialised, empty MLflow sqlite file: copying it is instant, creating one is not."""
    from mlflow import MlflowClient

    path = tmp_path_factory.mktemp("empty-store") / "mlflow.db"
    MlflowClient(f"sqlite:///{path}").search_experiments()
    return path


@pytest.fixture(scope="module")
def tracking_uri(tmp_path_factory: pytest.TempPathFactory, empty_store: Path):
    """A fresh MLflow store per test module, named by MLFLOW_TRACKING_URI as the steps expect."""
    home = tmp_path_factory.mktemp("store")
    shutil.copyfile(empty_store, home / "mlflow.db")
    uri = f"sqlite:///{home / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", uri)
        patch.chdir(home)  # anything MLflow might drop in cwd lands here
        yield uri
