"""Reading raw inputs: expand paths, detect each file's kind from its header, parse typed.

Files are streamed in blocks with pyarrow's CSV reader and typed column types taken
from the schema (float64 numbers, nanosecond timestamps), so memory stays bounded by
the block size and no cell is parsed in Python. Only when a typed read fails does a
diagnostic pass run over the file in chunks to name the file, column, line and value.
Every problem names the file, so a user can fix the input without opening a debugger.
"""

from __future__ import annotations

import csv
import hashlib
import logging
import os
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Generic, NoReturn, TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pcsv

from taxi_fare.errors import TaxiFareError
from taxi_fare.schema import FEATURE_TABLE, FEATURE_TABLE_COLUMNS, FEATURES, RAW_LAYOUTS, TARGET

T = TypeVar("T")

log = logging.getLogger(__name__)

DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"
STORE_FORWARD = {"N": 0.0, "Y": 1.0, "0": 0.0, "1": 1.0, "0.0": 0.0, "1.0": 1.0, "": 0.0}
#: CSV bytes per streamed block: large enough that per-block overhead vanishes
#: (about 250,000 raw rows), small enough that a block's columns stay well under 100 MB.
BLOCK_BYTES = 32 << 20
#: Rows per chunk of the diagnostic pass (pandas, text columns).
DIAGNOSTIC_CHUNK_ROWS = 500_000
NS_PER_S = 1_000_000_000
SECONDS_PER_DAY = 86_400

#: One streamed batch: column name -> float64 array, all the same length.
Columns = dict[str, np.ndarray]


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


def fingerprint(files: Iterable[Path], stop: threading.Event | None = None) -> str:
    """sha256 over the contents of the files, taken in name order: same data, same print."""
    digest = hashlib.sha256()
    for path in sorted(files, key=lambda p: (p.name, str(p))):
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 22), b""):
                if stop is not None and stop.is_set():
                    return ""
                digest.update(block)
    return digest.hexdigest()


class BackgroundFingerprint:
    """``fingerprint`` computed on a thread while the files are parsed (hashlib frees the GIL)."""

    def __init__(self, files: list[Path]) -> None:
        self._stop = threading.Event()
        self._result = ""
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(files,), daemon=True)
        self._thread.start()

    def _run(self, files: list[Path]) -> None:
        try:
            self._result = fingerprint(files, self._stop)
        except BaseException as exc:  # re-raised in the caller's thread by result()
            self._error = exc

    def result(self) -> str:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._result

    def cancel(self) -> None:
        self._stop.set()
        self._thread.join()


class FileStream(Generic[T]):
    """``work(path, kind)`` over every input file on threads, results in file-name order.

    Iterate once (``with FileStream(...) as stream: for result in stream``); all headers
    are checked when the stream is made, so a bad header fails before any file is parsed.
    ``workers`` files are in work while the caller holds the previous result, so memory
    is ``workers + 1`` files' results, however many files there are. The first error in
    file order is the one raised, whatever the number of workers; the files' fingerprint
    is computed on a thread alongside (``fingerprint()`` once every result was taken).
    """

    def __init__(
        self,
        paths: Iterable[str | Path],
        work: Callable[[Path, str], T],
        workers: int | None = None,
        name: str = "files",
    ) -> None:
        self.files = expand_inputs(paths)
        self.kinds = [(path, detect_kind(path, read_header(path))) for path in self.files]
        self.workers = max(1, min(len(self.kinds), workers or os.cpu_count() or 1))
        self._work = work
        self._hasher = BackgroundFingerprint(self.files)
        self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix=name)

    def __iter__(self) -> Iterator[T]:
        queue = iter(self.kinds)
        pending: deque[Future[T]] = deque(
            self._pool.submit(self._work, path, kind) for path, kind in islice(queue, self.workers)
        )
        while pending:
            head = pending.popleft()
            pending.extend(self._pool.submit(self._work, p, k) for p, k in islice(queue, 1))
            result = head.result()
            del head
            yield result
            del result  # before waiting for the next file: its memory is free to reuse

    def fingerprint(self) -> str:
        return self._hasher.result()

    def close(self, failed: bool = False) -> None:
        """Stop: files not started are dropped; on failure the fingerprint is abandoned."""
        self._pool.shutdown(wait=True, cancel_futures=True)
        if failed:
            self._hasher.cancel()

    def __enter__(self) -> FileStream[T]:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        self.close(failed=kind is not None)


def map_files(
    paths: Iterable[str | Path],
    work: Callable[[Path, str], T],
    workers: int | None = None,
    name: str = "files",
) -> tuple[list[T], str]:
    """Every result of a ``FileStream`` in file-name order, and the files' fingerprint."""
    with FileStream(paths, work, workers, name) as stream:
        results = list(stream)
        return results, stream.fingerprint()


def first_undecodable(path: Path) -> tuple[int, int, bytes] | None:
    """(line, column, bytes) of the first byte that is not UTF-8, 1-based; None if all is.

    Only run once a read has failed, to turn a decoder's "position N" into a place in the file.
    """
    with open(path, "rb") as handle:
        for number, line in enumerate(handle, start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as exc:
                return number, exc.start + 1, line[exc.start : exc.start + 4]
    return None


def _not_utf8(path: Path) -> InputError:
    where = first_undecodable(path)
    at = "" if where is None else f" at line {where[0]} column {where[1]} (bytes {where[2]!r})"
    return InputError(f"{path}: not UTF-8 text{at}; inputs must be UTF-8 CSV files")


def read_header(path: Path) -> list[str]:
    """The first CSV line; an unreadable, binary or non-UTF-8 file is an ``InputError``."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            return next(csv.reader(handle))
    except StopIteration:
        raise InputError(f"{path}: file is empty") from None
    except UnicodeDecodeError:
        raise _not_utf8(path) from None
    except csv.Error as exc:  # e.g. NUL bytes: a binary file
        raise InputError(f"{path}: not a CSV text file (line 1: {exc})") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None


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


# ---------------------------------------------------------------------------------------
# Typed, streamed read


def _field_of(kind: str) -> dict[str, str]:
    """Raw column -> canonical field read from a file of ``kind``."""
    if kind == FEATURE_TABLE:
        return {c: c for c in FEATURE_TABLE_COLUMNS}
    return RAW_LAYOUTS[kind].mapping


def _arrow_type(field: str) -> pa.DataType:
    if field.endswith("_datetime"):
        return pa.timestamp("ns")  # also takes fractional seconds, as real TLC files have
    if field == "store_forward":
        return pa.dictionary(pa.int32(), pa.string())  # N/Y: a handful of distinct values
    return pa.float64()


def _typed_batches(path: Path, kind: str) -> Iterator[pa.RecordBatch]:
    fields = _field_of(kind)
    reader = pcsv.open_csv(
        path,
        read_options=pcsv.ReadOptions(block_size=BLOCK_BYTES),
        convert_options=pcsv.ConvertOptions(
            include_columns=list(fields),
            column_types={c: _arrow_type(f) for c, f in fields.items()},
            # Only an empty cell is missing; 'NA', 'null' and friends stay text (an error).
            null_values=[""],
            strings_can_be_null=False,
        ),
    )
    yield from reader


def _floats(array: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """float64 numpy array; nulls become NaN."""
    return np.asarray(array.to_numpy(zero_copy_only=False), dtype="float64")


def _store_forward(
    array: pa.DictionaryArray, path: Path, column: str, first_row: int
) -> np.ndarray:
    """Raw files say N/Y; the feature table says 0/1 (possibly written as 0.0/1.0)."""
    values = [str(v).strip().upper() for v in array.dictionary.to_pylist()]
    lookup = np.array([STORE_FORWARD.get(v, np.nan) for v in values] or [0.0])
    codes = array.indices.to_numpy(zero_copy_only=False)
    out: np.ndarray = lookup[codes]
    if np.isnan(out).any():
        at = int(np.flatnonzero(np.isnan(out))[0])
        bad = array.dictionary[int(codes[at])].as_py()
        raise InputError(
            f"{path}: column {column!r} line {first_row + at + 2}: {bad!r} is not N, Y, 0 or 1"
        )
    return out


class _Calendar:
    """Weekday, month and day of month per day number, from a table over the days seen.

    A batch spans a few hundred distinct days, so three gathers replace per-row
    calendar arithmetic; the table grows when a batch reaches outside it.
    """

    def __init__(self) -> None:
        self._first = 0
        self._tables = np.empty((3, 0))

    def parts(self, days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        lo, hi = int(days.min()), int(days.max())
        last = self._first + self._tables.shape[1] - 1
        if self._tables.size and (lo < self._first or hi > last):
            lo, hi = min(lo, self._first), max(hi, last)
        if not self._tables.size or lo < self._first or hi > last:
            day = np.arange(lo, hi + 1)
            date = day.astype("datetime64[D]")
            month = date.astype("datetime64[M]")
            self._tables = np.stack(
                [
                    (day + 3) % 7,  # 1970-01-01 was a Thursday; Monday is 0, as pandas counts
                    month.astype("int64") % 12 + 1,
                    (date - month.astype("datetime64[D]")).astype("int64") + 1,
                ]
            ).astype("float64")
            self._first = lo
        index = days - self._first
        return self._tables[0][index], self._tables[1][index], self._tables[2][index]


_TIME_OF_DAY = np.stack(
    [
        np.arange(SECONDS_PER_DAY) // 3600,
        np.arange(SECONDS_PER_DAY) // 60 % 60,
        np.arange(SECONDS_PER_DAY) % 60,
    ]
).astype("float64")


def _nanoseconds(stamps: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Integer nanoseconds (0 where missing) and the validity mask."""
    valid = stamps.is_valid().to_numpy(zero_copy_only=False)
    return stamps.cast(pa.int64()).fill_null(0).to_numpy(), valid


def _datetime_parts(ns: np.ndarray, valid: np.ndarray, prefix: str, calendar: _Calendar) -> Columns:
    """The six ``<prefix>_*`` features of timestamps given as integer ns (NaN where missing)."""
    seconds = ns // NS_PER_S
    days = seconds // SECONDS_PER_DAY
    time_of_day = seconds - days * SECONDS_PER_DAY
    weekday, month, monthday = calendar.parts(days)
    parts = {
        "weekday": weekday,
        "month": month,
        "monthday": monthday,
        "hour": _TIME_OF_DAY[0][time_of_day],
        "minute": _TIME_OF_DAY[1][time_of_day],
        "second": _TIME_OF_DAY[2][time_of_day],
    }
    if not valid.all():
        parts = {name: np.where(valid, values, np.nan) for name, values in parts.items()}
    return {f"{prefix}_{name}": values for name, values in parts.items()}


def _raw_columns(
    batch: pa.RecordBatch, kind: str, path: Path, first_row: int, calendar: _Calendar
) -> Columns:
    """The 20 features, the target and ``duration_s`` (for cleaning) of one raw batch.

    Same values as the pandas reference in tests/data_science/test_ingest.py, without pandas.
    """
    trips: Columns = {}
    stamps: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for column, field in RAW_LAYOUTS[kind].mapping.items():
        array = batch.column(column)
        if field.endswith("_datetime"):
            stamps[field.removesuffix("_datetime")] = _nanoseconds(array)
        elif field == "store_forward":
            trips[field] = _store_forward(array, path, column, first_row)
        else:
            trips[field] = _floats(array)
    for prefix, (ns, valid) in stamps.items():
        trips.update(_datetime_parts(ns, valid, prefix, calendar))
    out: Columns = {name: trips[name] for name in (*FEATURES, TARGET)}
    # Subtract exact integer ns, then convert: float64 ns would round at about 256 ns.
    (pickup, pickup_valid), (dropoff, dropoff_valid) = stamps["pickup"], stamps["dropoff"]
    duration = (dropoff - pickup) / NS_PER_S
    valid = pickup_valid & dropoff_valid
    out["duration_s"] = duration if valid.all() else np.where(valid, duration, np.nan)
    return out


def _feature_columns(batch: pa.RecordBatch, path: Path, first_row: int) -> Columns:
    out: Columns = {}
    for column in FEATURE_TABLE_COLUMNS:
        array = batch.column(column)
        if column == "store_forward":
            out[column] = _store_forward(array, path, column, first_row)
        else:
            out[column] = _floats(array)
    return {name: out[name] for name in (*FEATURES, TARGET)}


#: What pyarrow raises for a cell it cannot convert or a line it cannot split.
_TYPED_READ_ERRORS = (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError)


def iter_batches(path: Path, kind: str) -> Iterator[Columns]:
    """The file's trips as float64 column batches: features, target (+ ``duration_s``).

    A batch is yielded only once it parsed in full; when a later block fails the
    diagnostic pass raises, so a caller never keeps a partly read file.
    """
    calendar = _Calendar()
    batches = _typed_batches(path, kind)
    first_row = 0
    while True:
        try:
            batch = next(batches)
        except StopIteration:
            return
        except _TYPED_READ_ERRORS as exc:
            diagnose(path, kind, exc)
        if batch.num_rows == 0:
            continue
        if kind == FEATURE_TABLE:
            yield _feature_columns(batch, path, first_row)
        else:
            yield _raw_columns(batch, kind, path, first_row, calendar)
        first_row += batch.num_rows


# ---------------------------------------------------------------------------------------
# Diagnostic pass: only after a typed read failed


def _bad_number(values: pd.Series) -> pd.Series:
    text = values.str.strip()
    parsed = pd.to_numeric(text, errors="coerce")
    return values[parsed.isna() & values.notna() & (text != "")]


def _bad_datetime(values: pd.Series) -> pd.Series:
    parsed = pd.to_datetime(values, format=DATETIME_FORMAT, errors="coerce")
    bad = values[parsed.isna() & values.notna()]
    if len(bad):
        # Real TLC files sometimes carry fractional seconds: accept any ISO 8601 form.
        bad = bad[pd.to_datetime(bad, format="ISO8601", errors="coerce").isna()]
    return bad


def _bad_store_forward(values: pd.Series) -> pd.Series:
    known = values.isna() | values.str.strip().str.upper().isin(list(STORE_FORWARD))
    return values[~known]


def _raise_first_bad_cell(path: Path, fields: dict[str, str], chunk: pd.DataFrame) -> None:
    for column, field in fields.items():
        values = chunk[column]
        if field.endswith("_datetime"):
            bad, what = _bad_datetime(values), f"a datetime ({DATETIME_FORMAT.replace('%', '')})"
        elif field == "store_forward":
            bad, what = _bad_store_forward(values), "N, Y, 0 or 1"
        else:
            bad, what = _bad_number(values), "a number"
        if len(bad):
            line = int(bad.index[0]) + 2  # 1-based, after the header line
            raise InputError(
                f"{path}: column {column!r} line {line}: {bad.iloc[0]!r} is not {what}"
            )


def diagnose(path: Path, kind: str, exc: Exception) -> NoReturn:
    """Find the first bad cell of a file the typed reader refused, and raise naming it.

    Reads the file as text in chunks (bounded memory). When the text check finds
    nothing (a cell pyarrow refuses that pandas would take), pyarrow's reason is given.
    """
    fields = _field_of(kind)
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    try:
        with pd.read_csv(
            path,
            usecols=list(fields),
            dtype=str,
            keep_default_na=False,
            na_values=[""],
            encoding="utf-8-sig",
            chunksize=DIAGNOSTIC_CHUNK_ROWS,
        ) as chunks:
            for chunk in chunks:
                _raise_first_bad_cell(path, fields, chunk)
    except UnicodeDecodeError:
        raise _not_utf8(path) from None
    except (pd.errors.ParserError, ValueError) as err:
        text = str(err).strip()
        reason = text.splitlines()[-1] if text else type(err).__name__
    raise InputError(f"{path}: not a readable CSV file ({reason})")


# ---------------------------------------------------------------------------------------
# Whole-file frames (small inputs: batch scoring, the stage set). prep never builds one;
# the whole-table twin of its read (all inputs merged) is tests/tables.py, a test reference.


def _frame(batches: Iterable[Columns], names: Iterable[str]) -> pd.DataFrame:
    parts = list(batches)
    names = list(names)
    if not parts:
        return pd.DataFrame({n: pd.Series(dtype="float64") for n in names})
    return pd.DataFrame({n: np.concatenate([p[n] for p in parts]) for n in names}, copy=False)


def read_raw(path: Path, kind: str) -> pd.DataFrame:
    """A green or yellow file as engineered features + target + ``duration_s``."""
    return _frame(iter_batches(path, kind), (*FEATURES, TARGET, "duration_s"))


def read_feature_table(path: Path) -> pd.DataFrame:
    """The feature-table layout (unnamed index column, cost, the 20 features)."""
    return _frame(iter_batches(path, FEATURE_TABLE), (*FEATURES, TARGET))
