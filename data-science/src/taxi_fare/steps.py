"""What every step shell shares: logging setup, one-line errors, the MLflow run."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from taxi_fare.errors import TaxiFareError
from taxi_fare.store import check_database, ensure_experiment, open_store, sqlite_path

log = logging.getLogger(__name__)

#: Experiment of steps run by hand (the local runner and Azure ML name their own).
HAND_RUN_EXPERIMENT = "taxi-fare-steps"


def run_step(body: Callable[[], int]) -> int:
    """Run a step body; a ``TaxiFareError`` becomes ``error: <message>`` on stderr and exit 1."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("mlflow", "alembic", "urllib3", "azure", "flaml"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        # A damaged local store is refused before any work, so nothing is half-written.
        database = sqlite_path(os.environ.get("MLFLOW_TRACKING_URI"))
        if database is not None:
            check_database(database)
        return body()
    except TaxiFareError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


@contextmanager
def mlflow_run(step: str) -> Iterator[object]:
    """The step's MLflow run: the one named by ``MLFLOW_RUN_ID`` (Azure ML, local runner) or new.

    ``mlflow.start_run`` itself honours ``MLFLOW_RUN_ID``, ``MLFLOW_EXPERIMENT_ID`` and
    ``MLFLOW_TRACKING_URI``; a run started here by hand is named after the step.
    """
    import mlflow

    active = mlflow.active_run()
    if active is not None:
        yield active
        return
    open_store(mlflow.get_tracking_uri())  # a damaged sqlite store: one line, untouched
    by_hand = not os.environ.get("MLFLOW_RUN_ID")
    experiment_id = None
    if by_hand and not (
        os.environ.get("MLFLOW_EXPERIMENT_ID") or os.environ.get("MLFLOW_EXPERIMENT_NAME")
    ):
        experiment_id = _hand_run_experiment()
    with mlflow.start_run(run_name=step if by_hand else None, experiment_id=experiment_id) as run:
        yield run


def _hand_run_experiment() -> str | None:
    """For a step run by hand on a sqlite store: artifacts beside the database, not in cwd.

    MLflow's Default experiment stores artifacts under ``./mlruns`` of whatever folder
    the first run started in, which would litter the source tree. The id is passed to
    ``start_run`` rather than made active with ``set_experiment``, which would also
    export ``MLFLOW_EXPERIMENT_ID`` into the environment of this process.
    """
    import mlflow

    uri = mlflow.get_tracking_uri()
    if not uri.startswith("sqlite:///"):
        return None
    database = Path(uri.removeprefix("sqlite:///"))
    location = (database.parent / "artifacts").resolve().as_uri()
    return ensure_experiment(mlflow.MlflowClient(), uri, HAND_RUN_EXPERIMENT, location)
