"""Reading raw inputs: expand paths, detect each file's kind from its header, validate types.

Every problem names the file, and where it applies the column and the value, so
a user can fix the input without opening a debugger.
"""

from __future__ import annotations

import csv
import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from taxi_fare.errors import TaxiFareError
from taxi_fare.features import engineer
from taxi_fare.schema import FEATURE_TABLE, FEATURE_TABLE_COLUMNS, FEATURES, RAW_LAYOUTS, TARGET

log = logging.getLogger(__name__)

DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"
STORE_FORWARD = {"N": 0.0, "Y": 1.0, "0": 0.0, "1": 1.0, "0.0": 0.0, "1.0": 1.0}


class InputError(TaxiFareError):
    """An input path or file cannot be used as it is."""


@dataclass(frozen=True)
class InputFile:
    path: Path
    kind: str
    rows: int


def expand_inputs(paths: Iterable[str | Path]) -> list[Path]:
    """Files named directly plus every ``*.csv`` under named folders, sorted, without repeats."""
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise InputError(f"{path}: no such file or folder")
        if path.is_dir():
            found = sorted(p for p in path.rglob("*.csv") if p.is_file())
            if not found:
                raise InputError(f"{path}: folder holds no .csv files")
            files.extend(found)
        else:
            files.append(path)
    unique = list(dict.fromkeys(p.resolve() for p in files))
    return sorted(unique, key=lambda p: (p.name, str(p)))


def fingerprint(files: Iterable[Path]) -> str:
    """sha256 over the contents of the files, taken in name order: same data, same print."""
    digest = hashlib.sha256()
    for path in sorted(files, key=lambda p: (p.name, str(p))):
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def read_header(path: Path) -> list[str]:
    with open(path, newline="", encoding="utf-8-sig") as handle:
        try:
            return next(csv.reader(handle))
        except StopIteration:
            raise InputError(f"{path}: file is empty") from None


def detect_kind(path: Path, header: list[str]) -> str:
    """green, yellow or the feature table, from distinctive columns; then check the rest."""
    names = set(header)
    if "lpepPickupDatetime" in names:
        kind = "green"
    elif "tpepPickupDateTime" in names:
        kind = "yellow"
    elif TARGET in names or names & set(FEATURES):
        kind = FEATURE_TABLE
    else:
        shown = ",".join(header[:6]) + (",..." if len(header) > 6 else "")
        raise InputError(
            f"{path}: header {shown!r} is neither green (lpepPickupDatetime, ...), "
            f"yellow (tpepPickupDateTime, ...) nor the feature table ({TARGET}, {FEATURES[0]}, ...)"
        )
    required = FEATURE_TABLE_COLUMNS if kind == FEATURE_TABLE else tuple(RAW_LAYOUTS[kind].mapping)
    missing = [c for c in required if c not in names]
    if missing:
        raise InputError(f"{path}: {kind} file lacks required column {missing[0]!r}")
    return kind


def _numeric(frame: pd.DataFrame, column: str, path: Path) -> pd.Series:
    values = frame[column]
    if pd.api.types.is_numeric_dtype(values):
        return values.astype("float64")
    parsed = pd.to_numeric(values.str.strip(), errors="coerce")
    bad = values[parsed.isna() & values.notna() & (values.str.strip() != "")]
    if len(bad):
        row = int(bad.index[0]) + 2  # 1-based, after the header line
        raise InputError(f"{path}: column {column!r} line {row}: {bad.iloc[0]!r} is not a number")
    return parsed.astype("float64")


def _datetime(frame: pd.DataFrame, column: str, path: Path) -> pd.Series:
    values = frame[column]
    parsed = pd.to_datetime(values, format=DATETIME_FORMAT, errors="coerce")
    bad = values[parsed.isna() & values.notna()]
    if len(bad):
        # Real TLC files sometimes carry fractional seconds: accept any ISO 8601 form.
        retry = pd.to_datetime(bad, format="ISO8601", errors="coerce")
        still = bad[retry.isna()]
        if len(still):
            row = int(still.index[0]) + 2
            raise InputError(
                f"{path}: column {column!r} line {row}: {still.iloc[0]!r} is not a datetime "
                f"({DATETIME_FORMAT.replace('%', '')})"
            )
        parsed.loc[retry.index] = retry
    return parsed


def _store_forward(frame: pd.DataFrame, column: str, path: Path) -> pd.Series:
    """Raw files say N/Y; the feature table says 0/1 (possibly written as 0.0/1.0)."""
    raw = frame[column].astype("string")
    values = raw.str.strip().str.upper()
    known = values.isna() | values.isin(list(STORE_FORWARD))
    if not known.all():
        row = int(values[~known].index[0]) + 2
        raise InputError(
            f"{path}: column {column!r} line {row}: {raw[~known].iloc[0]!r} is not N, Y, 0 or 1"
        )
    return values.map(STORE_FORWARD).astype("float64").fillna(0.0)


def _read_csv(path: Path, usecols: list[str] | None = None) -> pd.DataFrame:
    """All columns as text (checked one by one later); a malformed file names itself."""
    try:
        return pd.read_csv(
            path,
            usecols=usecols,
            dtype=str,
            keep_default_na=False,
            na_values=[""],
            encoding="utf-8-sig",
        )
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{path}: not a readable CSV file ({reason})") from None


def read_raw(path: Path, kind: str) -> pd.DataFrame:
    """A green or yellow file as engineered features + target + ``duration_s``."""
    layout = RAW_LAYOUTS[kind]
    frame = _read_csv(path, usecols=list(layout.mapping))
    trips = pd.DataFrame(index=frame.index)
    for column, field in layout.mapping.items():
        if field.endswith("_datetime"):
            trips[field] = _datetime(frame, column, path)
        elif field == "store_forward":
            trips[field] = _store_forward(frame, column, path)
        else:
            trips[field] = _numeric(frame, column, path)
    return engineer(trips)


def read_feature_table(path: Path) -> pd.DataFrame:
    """The feature-table layout (unnamed index column, cost, the 20 features)."""
    frame = _read_csv(path)
    out = pd.DataFrame(index=frame.index)
    for column in FEATURES:
        if column == "store_forward":
            out[column] = _store_forward(frame, column, path)
        else:
            out[column] = _numeric(frame, column, path)
    out[TARGET] = _numeric(frame, TARGET, path)
    return out


def read_inputs(paths: Iterable[str | Path]) -> tuple[pd.DataFrame, list[InputFile], str]:
    """All inputs merged: features + target (+ ``duration_s`` where datetimes exist)."""
    files = expand_inputs(paths)
    frames: list[pd.DataFrame] = []
    described: list[InputFile] = []
    for path in files:
        kind = detect_kind(path, read_header(path))
        frame = read_feature_table(path) if kind == FEATURE_TABLE else read_raw(path, kind)
        if frame.empty:
            raise InputError(f"{path}: file has a header but no rows")
        log.info("read %s: %s, %s rows", path, kind, f"{len(frame):,}")
        frames.append(frame)
        described.append(InputFile(path, kind, len(frame)))
    merged = pd.concat(frames, ignore_index=True)
    return merged, described, fingerprint(files)
