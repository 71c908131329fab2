"""Input files of a batch deployment to features, and predictions to output rows.

Each output row is one CSV line ``file,row,prediction``: the input file's name, the
0-based position of the row inside that file, and the predicted cost. Files are feature
files, CSV (optionally with the feature table's unnamed index column and ``cost``) or
Parquet, whose signature columns are taken by name (other columns are ignored), or raw
NYC TLC green/yellow CSVs, which ``taxi_fare.ingest`` turns into the 20 features first,
exactly as prep.py does (rows are not cleaned: every input row gets a prediction).

Failures follow Azure ML's accounting, where the failed unit is a mini-batch item (a file):
when a file cannot be scored, every good file of the mini-batch is still read and
checked, then ``score_files`` raises an error naming each bad file and why. The batch
driver counts all items of a raising mini-batch as failed and aborts the job once the
count passes the deployment's ``error_threshold`` (-1: never). With ``mini_batch_size: 1``
(this template's setting) exactly the corrupt files fail and the good ones are scored.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from taxi_fare.errors import TaxiFareError
from taxi_fare.ingest import detect_kind, read_header, read_raw
from taxi_fare.schema import FEATURES
from taxi_fare.serving.loading import Collect, ScoringModel
from taxi_fare.serving.payload import Column

log = logging.getLogger(__name__)

READERS = (".csv", ".parquet")
#: Header columns that mark a raw TLC trip file (green, yellow).
RAW_MARKERS = frozenset({"lpepPickupDatetime", "tpepPickupDateTime"})


class BatchFileError(ValueError):
    """One or more files of a mini-batch could not be scored; the message names them."""

    def __init__(self, message: str, reasons: dict[str, str]) -> None:
        super().__init__(message)
        self.reasons = reasons  # file name -> why it failed


class BadFile(ValueError):
    """One input file cannot be scored; the message starts with the file name."""


def read_features(path: Path, columns: tuple[Column, ...]) -> pd.DataFrame:
    """Read one input file and return the signature columns as a float frame.

    Raises BadFile naming the file, the column and the first bad value.
    """
    suffix = path.suffix.lower()
    if suffix not in READERS:
        raise BadFile(f"{path.name}: unsupported file type {suffix or '(none)'}")
    try:
        frame = read_raw_trips(path) if suffix == ".csv" else None
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
        series = frame[col.name]
        if series.dtype.kind in "fiu":  # numeric already (parquet, most CSVs): no parsing
            values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64)
        bad = ~np.isfinite(values)  # NaN (missing or unparsable) and infinities
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise BadFile(
                f"{path.name}: column {col.name!r} row {row}: "
                f"{_shown(series.iloc[row])} is not a finite number"
            )
        out[col.name] = values.astype(col.dtype, copy=False)
    if len({c.dtype for c in columns}) == 1:  # one block: no per-column consolidation
        block = np.column_stack([out[c.name] for c in columns])
        return pd.DataFrame(block, columns=[c.name for c in columns], index=range(len(frame)))
    return pd.DataFrame(out, index=range(len(frame)))


def _shown(cell: object) -> str:
    """A cell as the file holds it: ``nan``, ``'far'``, not numpy's ``np.float64(nan)``."""
    item = getattr(cell, "item", None)
    return repr(item() if callable(item) and isinstance(cell, np.generic) else cell)


def read_raw_trips(path: Path) -> pd.DataFrame | None:
    """The 20 features of a raw green/yellow TLC CSV, or None when the file is not one."""
    try:
        header = read_header(path)
        if not RAW_MARKERS & set(header):
            return None
        kind = detect_kind(path, header)
        return read_raw(path, kind).loc[:, list(FEATURES)].reset_index(drop=True)
    except TaxiFareError as exc:  # names the file, column and line already
        raise BadFile(f"{path.name}: {exc}".replace(f"{path}: ", "")) from None
    except UnicodeDecodeError:
        raise BadFile(f"{path.name}: cannot be read (not UTF-8 text)") from None


def format_rows(file_name: str, predictions: Sequence[float]) -> list[str]:
    """CSV lines ``file,row,prediction`` (quoted as needed) for one scored file."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow([file_name])
    prefix = buf.getvalue() + ","  # the file name, quoted once for the whole file
    # repr: the shortest text that reads back as the same double.
    return [f"{prefix}{i},{text}" for i, text in enumerate(map(repr, map(float, predictions)))]


def score_files(
    mini_batch: Sequence[str], model: ScoringModel, collect: Collect | None = None
) -> list[str]:
    """Output rows of every file of the mini-batch; BatchFileError naming any that failed."""
    rows: list[str] = []
    failures: dict[str, str] = {}
    for item in mini_batch:
        path = Path(item)
        try:
            frame = read_features(path, model.columns)
        except BadFile as exc:
            log.error("cannot score %s", exc)
            failures[path.name] = str(exc).removeprefix(f"{path.name}: ")
            continue
        if len(frame):
            predictions = model.predict(frame)
            if collect is not None:
                collect(frame, predictions)
            rows.extend(format_rows(path.name, predictions))
        log.info("scored %d rows of %s", len(frame), path.name)
    if failures:
        listed = "; ".join(f"{name}: {why}" for name, why in failures.items())
        raise BatchFileError(
            f"{len(failures)} of {len(mini_batch)} files failed: {listed}", failures
        )
    return rows
