"""What every step shell shares: logging setup, one-line errors, the MLflow run."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from taxi_fare.errors import TaxiFareError

log = logging.getLogger(__name__)


def run_step(body: Callable[[], int]) -> int:
    """Run a step body; a ``TaxiFareError`` becomes ``error: <message>`` on stderr and exit 1."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("mlflow", "alembic", "urllib3", "azure", "flaml"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
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
    name = None if os.environ.get("MLFLOW_RUN_ID") else step
    with mlflow.start_run(run_name=name) as run:
        yield run
