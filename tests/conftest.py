"""Suite-wide guard: no test touches the repository's own .mlops/ or ./mlruns."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True, scope="session")
def _isolated_mlops_home(tmp_path_factory: pytest.TempPathFactory):
    saved = {k: os.environ.get(k) for k in ("MLOPS_HOME", "MLFLOW_TRACKING_URI", "MLFLOW_RUN_ID")}
    os.environ["MLOPS_HOME"] = str(tmp_path_factory.mktemp("mlops-home"))
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    os.environ.pop("MLFLOW_RUN_ID", None)
    os.environ.setdefault("MPLBACKEND", "Agg")
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
