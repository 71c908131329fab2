"""Batch scoring entry script for Azure ML model batch deployments (and ``mlops batch-score``).

Contract of the batch driver: ``init()`` runs once per worker process; ``run(mini_batch)``
gets a list of file paths and returns a list of rows, which the deployment's
``output_action: append_row`` appends to its output file (``predictions.csv``).

Each returned row is one CSV line ``file,row,prediction``: the input file's name, the
0-based position of the row inside that file, and the predicted cost. Files are feature
files, CSV (optionally with the feature table's unnamed index column and ``cost``) or
Parquet, whose signature columns are taken by name (other columns are ignored), or raw
NYC TLC green/yellow CSVs, which ``taxi_fare.ingest`` turns into the 20 features first,
exactly as prep.py does (rows are not cleaned: every input row gets a prediction).

Failures follow Azure ML's accounting, where the failed unit is a mini-batch item (a file):
when a file cannot be scored, every good file of the mini-batch is still read and
checked, then ``run()`` raises an error naming each bad file and why. The batch driver
counts all items of a raising mini-batch as failed and aborts the job once the count
passes the deployment's ``error_threshold`` (-1: never). With ``mini_batch_size: 1``
(this template's setting) exactly the corrupt files fail and the good ones are scored.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import sys
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

READERS = (".csv", ".parquet")

_MODEL: Any = None  # score.ScoringModel
_COLLECT: Any = None  # taxi_fare.collect sink (score._collector), None when off


class BatchFileError(ValueError):
    """One or more files of a mini-batch could not be scored; the message names them."""

    def __init__(self, message: str, reasons: dict[str, str]) -> None:
        super().__init__(message)
        self.reasons = reasons  # file name -> why it failed


class BadFile(ValueError):
    """One input file cannot be scored; the message starts with the file name."""


def _score_module() -> Any:
    """The online script's loader and checks, shared so both endpoints read models alike."""
    here = str(Path(__file__).resolve().parent)
    if here not in sys.path:  # the batch driver imports this file by path
        sys.path.insert(0, here)
    import score

    return score


def read_features(path: Path, columns: tuple[Any, ...]) -> Any:
    """Read one input file and return the signature columns as a float frame.

    Raises BadFile naming the file, the column and the first bad value.
    """
    import numpy as np
    import pandas as pd

    suffix = path.suffix.lower()
    if suffix not in READERS:
        raise BadFile(f"{path.name}: unsupported file type {suffix or '(none)'}")
    try:
        frame = _read_raw_trips(path) if suffix == ".csv" else None
        if frame is None:
            frame = pd.read_parquet(path) if suffix == ".parquet" else pd.read_csv(path)
    except BadFile:
        raise
    except Exception as exc:  # pandas/pyarrow raise many types for unreadable files
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise BadFile(f"{path.name}: cannot be read ({reason})") from None
    missing = [c.name for c in columns if c.name not in frame.columns]
    if missing:
        raise BadFile(f"{path.name}: missing columns: {', '.join(missing)}")
    out = {}
    for col in columns:
        values = pd.to_numeric(frame[col.name], errors="coerce").astype("float64")
        bad = values.isna() | ~np.isfinite(values)
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise BadFile(
                f"{path.name}: column {col.name!r} row {row}: "
                f"{frame[col.name].iloc[row]!r} is not a finite number"
            )
        out[col.name] = values.to_numpy().astype(col.dtype)
    return pd.DataFrame(out, index=range(len(frame)))


def _read_raw_trips(path: Path) -> Any:
    """The 20 features of a raw green/yellow TLC CSV, or None when the file is not one."""
    _score_module()  # puts this folder, which holds taxi_fare, on sys.path
    from taxi_fare.errors import TaxiFareError
    from taxi_fare.ingest import detect_kind, read_header, read_raw
    from taxi_fare.schema import FEATURES

    try:
        header = read_header(path)
        if not {"lpepPickupDatetime", "tpepPickupDateTime"} & set(header):
            return None
        kind = detect_kind(path, header)
        return read_raw(path, kind).loc[:, list(FEATURES)].reset_index(drop=True)
    except TaxiFareError as exc:  # names the file, column and line already
        raise BadFile(f"{path.name}: {exc}".replace(f"{path}: ", "")) from None
    except UnicodeDecodeError:
        raise BadFile(f"{path.name}: cannot be read (not UTF-8 text)") from None


def format_rows(file_name: str, predictions: list[float]) -> list[str]:
    """CSV lines ``file,row,prediction`` (quoted as needed) for one scored file."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow([file_name])
    name = buf.getvalue()  # the file name, quoted once for the whole file
    return [f"{name},{i},{float(value)!r}" for i, value in enumerate(predictions)]


def init() -> None:
    """Load the model from ``AZUREML_MODEL_DIR`` once per worker."""
    global _MODEL, _COLLECT
    root = os.environ.get("AZUREML_MODEL_DIR")
    if not root:
        raise RuntimeError("AZUREML_MODEL_DIR is not set; the batch driver sets it")
    # All cores: a mini-batch is whole files, where joblib's per-call cost is amortised.
    score = _score_module()
    _MODEL = score.load_scoring_model(Path(root), n_jobs=-1)
    _COLLECT = score._collector(_MODEL, "batch")


def run(mini_batch: list[str]) -> list[str]:
    """Score each file of the mini-batch; raise BatchFileError naming any file that failed."""
    if _MODEL is None:
        raise RuntimeError("init() has not loaded a model")
    rows: list[str] = []
    failures: dict[str, str] = {}
    for item in mini_batch:
        path = Path(item)
        try:
            frame = read_features(path, _MODEL.columns)
        except BadFile as exc:
            logger.error("cannot score %s", exc)
            failures[path.name] = str(exc).removeprefix(f"{path.name}: ")
            continue
        if len(frame):
            predictions = _MODEL.predict(frame)
            if _COLLECT is not None:
                _COLLECT(frame, predictions)
            rows.extend(format_rows(path.name, predictions))
        logger.info("scored %d rows of %s", len(frame), path.name)
    if failures:
        listed = "; ".join(f"{name}: {why}" for name, why in failures.items())
        raise BatchFileError(
            f"{len(failures)} of {len(mini_batch)} files failed: {listed}", failures
        )
    return rows
