"""Where the local twin keeps its state, and the names every area agrees on."""

from __future__ import annotations

import os
from pathlib import Path

from mlops.errors import MlopsError

ENVIRONMENTS = ("dev", "stage", "prod")
REGISTRY = "registry"  # the local store that plays the Azure ML registry
MODEL_NAME = "taxi-fare"
REPO_ROOT = Path(__file__).resolve().parent.parent


def mlops_home() -> Path:
    """Root of all local state: ``$MLOPS_HOME``, default ``.mlops`` in the working directory."""
    return Path(os.environ.get("MLOPS_HOME", ".mlops")).resolve()


def store_dir(env: str) -> Path:
    """Folder of one MLflow store: an environment (dev, stage, prod) or the shared registry."""
    if env not in (*ENVIRONMENTS, REGISTRY):
        raise MlopsError(f"unknown environment {env!r}: expected one of dev, stage, prod")
    return mlops_home() / env


def tracking_uri(env: str) -> str:
    """MLflow tracking and registry URI (sqlite) of a store."""
    return f"sqlite:///{store_dir(env) / 'mlflow.db'}"


def artifact_root(env: str) -> str:
    """Artifact location for experiments created in a store."""
    return (store_dir(env) / "artifacts").as_uri()


def runs_dir() -> Path:
    """Folder holding one sub-folder per local pipeline run (step inputs, outputs, logs)."""
    return mlops_home() / "runs"


def collected_dir(env: str) -> Path:
    """Where local endpoints of ``env`` collect model inputs and predictions (monitoring)."""
    return store_dir(env) / "collected"


def collection_env(env: str) -> dict[str, str]:
    """Variables that turn collection on in score.py/batch_score.py (taxi_fare.collect).

    On by default for local endpoints; ``MLOPS_COLLECT=off`` (or 0, false) turns it off.
    """
    if os.environ.get("MLOPS_COLLECT", "on").strip().lower() in ("off", "0", "false", "no"):
        return {}
    return {"TAXI_FARE_COLLECT_DIR": str(collected_dir(env))}
