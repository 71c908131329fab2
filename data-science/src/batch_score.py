"""Batch scoring entry script for Azure ML model batch deployments (and ``mlops batch-score``).

Contract of the batch driver: ``init()`` runs once per worker process; ``run(mini_batch)``
gets a list of file paths and returns a list of rows, which the deployment's
``output_action: append_row`` appends to its output file (``predictions.csv``). Rows are
``file,row,prediction``; which files are read and how a bad file fails its mini-batch is
``taxi_fare/serving/batch_files.py``, deployed beside this shell (``code:`` is
data-science/src).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:  # the batch driver imports this file by path
    sys.path.append(_HERE)

from taxi_fare.serving.batch_files import BadFile, BatchFileError, score_files  # noqa: E402
from taxi_fare.serving.loading import ScoringModel, collector, load_scoring_model  # noqa: E402

__all__ = ["BadFile", "BatchFileError", "init", "run"]

_MODEL: ScoringModel | None = None
_COLLECT: Any = None  # taxi_fare.collect sink, None when collection is off


def init() -> None:
    """Load the model from ``AZUREML_MODEL_DIR`` once per worker."""
    global _MODEL, _COLLECT
    root = os.environ.get("AZUREML_MODEL_DIR")
    if not root:
        raise RuntimeError("AZUREML_MODEL_DIR is not set; the batch driver sets it")
    # All cores: a mini-batch is whole files, where joblib's per-call cost is amortised.
    _MODEL = load_scoring_model(Path(root), n_jobs=-1)
    _COLLECT = collector(_MODEL, "batch")


def run(mini_batch: list[str]) -> list[str]:
    """Score each file of the mini-batch; raise BatchFileError naming any file that failed."""
    if _MODEL is None:
        raise RuntimeError("init() has not loaded a model")
    return score_files(mini_batch, _MODEL, _COLLECT)
