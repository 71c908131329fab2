"""Reading the monitor's inputs: a target and a baseline of model inputs.

Accepted: a parquet, CSV or JSONL (Azure ML data collector) file, or a folder of them
(searched recursively, dot files skipped), holding the 20 features by name. Besides the
features a file may carry ``cost`` (the label), ``prediction`` and ``collected_at``
(what taxi_fare.collect writes) and a CSV's unnamed index column; any other column is
refused, as is a missing feature, text in a feature column, or a file without rows. Raw
NYC TLC green/yellow CSVs are turned into features and cleaned exactly as prep.py does
(taxi_fare.cleaning), so a month of raw trips compares like with like against a training split.
"""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from mlops.errors import MlopsError

log = logging.getLogger(__name__)

LABEL = "cost"
PREDICTION = "prediction"  # taxi_fare.collect.PREDICTION
EXTRA_COLUMNS = frozenset({LABEL, PREDICTION, "collected_at"})
INDEX_COLUMNS = frozenset({"", "Unnamed: 0"})
RAW_MARKERS = frozenset({"lpepPickupDatetime", "tpepPickupDateTime"})
SUFFIXES = (".csv", ".parquet", ".jsonl")


@dataclass
class Table:
    """Features as float64 (NaN = null), plus labels and predictions when every file had them."""

    features: pd.DataFrame
    labels: np.ndarray | None
    predictions: np.ndarray | None
    files: list[Path] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return len(self.features)


def input_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise MlopsError(f"{path}: no such file or folder")
    found = sorted(
        p
        for p in path.rglob("*")
        if p.is_file()
        and p.suffix.lower() in SUFFIXES
        and not any(part.startswith(".") for part in p.relative_to(path).parts)
    )
    if not found:
        raise MlopsError(f"{path}: no parquet, CSV or JSONL files")
    return found


def read_table(path: Path, features: tuple[str, ...]) -> Table:
    """Read and check every file under ``path``; MlopsError naming file and column."""
    files = input_files(path)
    raw = [f for f in files if f.suffix.lower() == ".csv" and _is_raw_trips(f)]
    frames = [_read_feature_file(f, features) for f in files if f not in raw]
    if raw:
        frames.append(_read_raw_trips(raw, features))
    merged = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    labels, predictions = (
        merged[name].to_numpy("float64") if all(name in f for f in frames) else None
        for name in (LABEL, PREDICTION)
    )
    log.info("read %s rows from %d files under %s", f"{len(merged):,}", len(files), path)
    return Table(merged[list(features)], labels, predictions, files)


def _is_raw_trips(path: Path) -> bool:
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            header = next(csv.reader(handle), [])
    except (OSError, UnicodeDecodeError) as exc:
        raise MlopsError(f"{path}: cannot be read ({exc})") from None
    return bool(RAW_MARKERS & set(header))


def _read_jsonl(path: Path) -> pd.DataFrame:
    """Azure ML model data collector files: one JSON event per line, rows under ``data``
    (https://learn.microsoft.com/azure/machine-learning/how-to-collect-production-data,
    "Store collected data in a blob")."""
    import json

    records: list[dict] = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                event = json.loads(line)
            except ValueError:
                raise MlopsError(f"{path}: line {number} is not JSON") from None
            data = event.get("data") if isinstance(event, dict) else None
            if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
                raise MlopsError(f"{path}: line {number} has no list of records under 'data'")
            records.extend(data)
    return pd.DataFrame.from_records(records)


def _read_feature_file(path: Path, features: tuple[str, ...]) -> pd.DataFrame:
    suffix = path.suffix.lower()
    try:
        if suffix == ".jsonl":
            frame = _read_jsonl(path)
        else:
            frame = pd.read_parquet(path) if suffix == ".parquet" else pd.read_csv(path)
    except MlopsError:
        raise
    except pd.errors.EmptyDataError:
        raise MlopsError(f"{path}: file is empty") from None
    except Exception as exc:  # pandas/pyarrow raise many types for unreadable files
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise MlopsError(f"{path}: cannot be read ({reason})") from None
    columns = [str(c) for c in frame.columns]
    missing = [c for c in features if c not in columns]
    if missing:
        raise MlopsError(f"{path}: missing column {missing[0]!r} (of the {len(features)} features)")
    extra = [c for c in columns if c not in features and c not in EXTRA_COLUMNS]
    extra = [c for c in extra if not (c in INDEX_COLUMNS and path.suffix.lower() == ".csv")]
    if extra:
        raise MlopsError(f"{path}: unexpected column {extra[0]!r} (not a model feature)")
    if frame.empty:
        raise MlopsError(f"{path}: no rows")
    out = {}
    for name in (*features, *(c for c in (LABEL, PREDICTION) if c in columns)):
        out[name] = _numbers(path, name, frame[name])
    return pd.DataFrame(out)


def _numbers(path: Path, name: str, values: pd.Series) -> np.ndarray:
    """The column as float64; nulls stay NaN (a data quality signal), text is refused."""
    if pd.api.types.is_bool_dtype(values) or not (
        pd.api.types.is_numeric_dtype(values) or values.dtype == object
        or pd.api.types.is_string_dtype(values)
    ):  # fmt: skip
        raise MlopsError(f"{path}: column {name!r} holds {values.dtype}, not numbers")
    numbers = pd.to_numeric(values, errors="coerce")
    bad = numbers.isna() & values.notna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        shown = str(values.iloc[row])[:40]
        raise MlopsError(f"{path}: column {name!r} row {row}: {shown!r} is not a number")
    out = numbers.to_numpy("float64")
    if np.isinf(out).any():
        row = int(np.flatnonzero(np.isinf(out))[0])
        raise MlopsError(f"{path}: column {name!r} row {row}: {out[row]} is not a finite number")
    return out


def _read_raw_trips(files: list[Path], features: tuple[str, ...]) -> pd.DataFrame:
    from taxi_fare.cleaning import clean_inputs, top_reasons

    cleaned = clean_inputs(files)
    kept = len(cleaned.columns[LABEL])
    dropped = cleaned.rows_read - kept
    log.info(
        "raw trips: kept %s of %s rows (dropped as prep does: %s)",
        f"{kept:,}", f"{cleaned.rows_read:,}", top_reasons(cleaned.dropped) or "none",
    )  # fmt: skip
    if kept == 0:
        raise MlopsError(f"{files[0]}: no rows left after cleaning ({dropped:,} dropped)")
    return pd.DataFrame({name: cleaned.columns[name] for name in (*features, LABEL)})
