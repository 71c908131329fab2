"""Data-quality rules: which trips are kept, and how many are dropped for which reason.

Each row is charged to the FIRST rule it fails, in the order of ``RULES``, so the
counts add up to the number of dropped rows. Rules are vectorised over numpy arrays
and accept a DataFrame or a mapping of equal-length columns (the streamed batches of
``taxi_fare.ingest``), so prep never builds an intermediate frame to clean.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from taxi_fare.errors import TaxiFareError
from taxi_fare.ingest import Columns, InputError, InputFile, iter_batches, map_files
from taxi_fare.schema import FEATURES, TARGET

log = logging.getLogger(__name__)

#: NYC bounding box (includes Newark airport); 0.0 coordinates fall outside.
LATITUDE_RANGE = (40.49, 40.93)
LONGITUDE_RANGE = (-74.27, -73.68)
PASSENGER_RANGE = (1, 6)
MAX_SPEED_MPH = 80.0
MAX_DURATION_HOURS = 6.0
MAX_COST_USD = 500.0

#: A DataFrame or a mapping of column name -> equal-length array.
Trips = pd.DataFrame | Mapping[str, ArrayLike]


class QualityError(TaxiFareError):
    """Too many rows fail the data-quality rules."""


def _col(t: Trips, name: str) -> np.ndarray:
    return np.asarray(t[name], dtype="float64")


def _rows(t: Trips) -> int:
    return len(t) if isinstance(t, pd.DataFrame) else len(_col(t, TARGET))


def _between(values: np.ndarray, bounds: tuple[float, float]) -> np.ndarray:
    """Inclusive range test; NaN is outside."""
    return (values >= bounds[0]) & (values <= bounds[1])


def _missing(t: Trips) -> np.ndarray:
    missing = np.zeros(_rows(t), dtype=bool)
    for name in (*FEATURES, TARGET):
        missing |= np.isnan(_col(t, name))
    return missing


def _outside_nyc(t: Trips) -> np.ndarray:
    inside = _between(_col(t, "pickup_latitude"), LATITUDE_RANGE)
    inside &= _between(_col(t, "dropoff_latitude"), LATITUDE_RANGE)
    inside &= _between(_col(t, "pickup_longitude"), LONGITUDE_RANGE)
    inside &= _between(_col(t, "dropoff_longitude"), LONGITUDE_RANGE)
    return ~inside


def _duration(t: Trips) -> np.ndarray:
    """Trip seconds where the input had datetimes; NaN (no rule fires) for a feature table."""
    if "duration_s" in t:
        return _col(t, "duration_s")
    return np.full(_rows(t), np.nan)


def _dropoff_not_after_pickup(t: Trips) -> np.ndarray:
    return _duration(t) <= 0


def _implausible_speed(t: Trips) -> np.ndarray:
    hours = _duration(t) / 3600.0
    with np.errstate(divide="ignore", invalid="ignore"):  # 0 h was charged to the rule above
        speed = _col(t, "distance") / hours
    return (hours > MAX_DURATION_HOURS) | (speed > MAX_SPEED_MPH)


def _as_series(rule: Callable[[Trips], np.ndarray]) -> Callable[[Trips], pd.Series]:
    """Rules hand back a boolean Series aligned with a DataFrame input (callers use pandas)."""

    def series(t: Trips) -> pd.Series:
        index = t.index if isinstance(t, pd.DataFrame) else None
        return pd.Series(rule(t), index=index, dtype=bool, copy=False)

    series.__name__ = getattr(rule, "__name__", "rule")
    return series


RULES: tuple[tuple[str, Callable[[Trips], pd.Series]], ...] = tuple(
    (reason, _as_series(rule))
    for reason, rule in (
        ("missing_value", _missing),
        ("outside_nyc_bounding_box", _outside_nyc),
        ("non_positive_distance", lambda t: _col(t, "distance") <= 0),
        ("non_positive_cost", lambda t: _col(t, TARGET) <= 0),
        ("implausible_cost", lambda t: _col(t, TARGET) > MAX_COST_USD),
        (
            "passenger_count_out_of_range",
            lambda t: ~_between(_col(t, "passengers"), PASSENGER_RANGE),
        ),
        ("dropoff_not_after_pickup", _dropoff_not_after_pickup),
        ("implausible_speed", _implausible_speed),
    )
)


def keep_mask(trips: Trips) -> tuple[np.ndarray, dict[str, int]]:
    """Rows passing every rule, and drop counts per rule (0 when none failed) in rule order."""
    remaining = np.ones(_rows(trips), dtype=bool)
    dropped: dict[str, int] = {}
    for reason, rule in RULES:
        failing = rule(trips).to_numpy() & remaining
        dropped[reason] = int(np.count_nonzero(failing))
        remaining &= ~failing
    return remaining, dropped


@dataclass
class CleanInputs:
    """The kept rows of every input (20 features + target, as columns) and the counts."""

    columns: dict[str, np.ndarray]
    files: list[InputFile]
    rows_read: int
    dropped: dict[str, int]
    data_fingerprint: str

    @property
    def rows_kept(self) -> int:
        return self.rows_read - sum(self.dropped.values())


class _KeptRows:
    """One file's kept rows: an array per column, filled in place and grown by doubling.

    Few large arrays rather than a piece per block: malloc maps large arrays on their
    own pages and hands them back to the OS when freed, while freed block-sized pieces
    stay in the heap, so joining pieces would hold the table twice. Capacity is
    reserved from the file size; pages never written cost no memory.
    """

    def __init__(self, names: tuple[str, ...], capacity: int) -> None:
        self.size = 0
        self.arrays = {name: np.empty(capacity) for name in names}

    def append(self, batch: Mapping[str, np.ndarray], mask: np.ndarray) -> None:
        n = int(np.count_nonzero(mask))
        start, end = self.size, self.size + n
        for name, array in self.arrays.items():
            if end > len(array):
                grown = np.empty(max(2 * len(array), end))
                grown[:start] = array[:start]
                self.arrays[name] = array = grown
            np.compress(mask, batch[name], out=array[start:end])
        self.size = end

    def pop(self, name: str) -> np.ndarray:
        return self.arrays.pop(name)[: self.size]


@dataclass
class _CleanFile:
    """One file's share: rows read, drops per rule, and the kept rows."""

    info: InputFile
    dropped: dict[str, int]
    kept: _KeptRows


#: Fewer CSV bytes than a real trip line takes, so the kept rows rarely outgrow the reservation.
_MIN_LINE_BYTES = 64


@dataclass
class FileTally:
    """Rows read and rows dropped per rule while one file's batches are cleaned."""

    rows: int = 0
    dropped: dict[str, int] = field(default_factory=lambda: {reason: 0 for reason, _ in RULES})


def kept_batches(path: Path, kind: str, tally: FileTally) -> Iterator[tuple[Columns, np.ndarray]]:
    """Each batch of ``path`` with its keep mask, counted into ``tally``.

    The one cleaning loop of prep (per file) and of ``clean_inputs``. A file with a
    header but no rows raises ``InputError`` naming it once the batches run out.
    """
    for batch in iter_batches(path, kind):
        mask, counts = keep_mask(batch)
        tally.rows += len(mask)
        for reason, n in counts.items():
            tally.dropped[reason] += n
        yield batch, mask
        del batch, mask  # before the next block is read: one batch in memory at a time
    if tally.rows == 0:
        raise InputError(f"{path}: file has a header but no rows")
    log.info("read %s: %s, %s rows", path, kind, f"{tally.rows:,}")


def _clean_file(path: Path, kind: str) -> _CleanFile:
    kept = _KeptRows((*FEATURES, TARGET), path.stat().st_size // _MIN_LINE_BYTES + 1024)
    tally = FileTally()
    for batch, mask in kept_batches(path, kind, tally):
        kept.append(batch, mask)
        del batch
    return _CleanFile(InputFile(path, kind, tally.rows), tally.dropped, kept)


def clean_inputs(paths: Iterable[str | Path], workers: int | None = None) -> CleanInputs:
    """Read and clean every input file block by block, keeping only the rows that pass.

    Memory holds the kept rows plus a block per worker, never a whole raw file. All
    headers are checked before any file is parsed, so a bad header fails at once.
    Files are cleaned on ``workers`` threads (default: one per CPU; pyarrow and numpy
    release the GIL) and merged in file-name order, so the result and the first error
    reported do not depend on the number of workers.
    """
    parts, data_fingerprint = map_files(paths, _clean_file, workers, name="clean")
    dropped = {reason: sum(p.dropped[reason] for p in parts) for reason, _ in RULES}
    columns: dict[str, np.ndarray] = {}
    for name in (*FEATURES, TARGET):  # one column at a time: each file's part is freed once joined
        pieces = [p.kept.pop(name) for p in parts]
        columns[name] = pieces[0] if len(pieces) == 1 else np.concatenate(pieces)
        del pieces
    described = [p.info for p in parts]
    rows_read = sum(f.rows for f in described)
    return CleanInputs(columns, described, rows_read, dropped, data_fingerprint)


def top_reasons(dropped: dict[str, int], limit: int = 3) -> str:
    ranked = sorted(((n, r) for r, n in dropped.items() if n), reverse=True)[:limit]
    return ", ".join(f"{r} {n:,}" for n, r in ranked)


def check_drop_share(
    rows_read: int, dropped: dict[str, int], max_drop_fraction: float, source: str = "input"
) -> None:
    """Fail when every row, or more than the allowed share, was dropped from ``source``."""
    n = sum(dropped.values())
    if n >= rows_read:
        raise QualityError(f"{source}: all {rows_read:,} rows are invalid: {top_reasons(dropped)}")
    if n > max_drop_fraction * rows_read:
        raise QualityError(
            f"{source}: dropped {n:,} of {rows_read:,} rows ({n / rows_read:.1%}), more than "
            f"max_drop_fraction {max_drop_fraction:.0%}; top reasons: {top_reasons(dropped)}"
        )
