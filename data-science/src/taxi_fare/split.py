"""Stable train/test split and the split folders (parquet + MLTable) Azure AutoML reads.

A row's side is a function of the row alone: a 64-bit hash of its identifying fields
(the 20 features and the cost, which is all a split folder holds) mixed with the seed,
mapped to a number in [0, 1); the row is a test row when that number is below
``test_size``. So the same trip lands on the same side however the data grows, is
reordered or is cut into files, and the gate can tell from a champion's seed and
test size which rows it trained on (``is_test`` over any table). Duplicate trips
share a side, so a copy of a training row never leaks into the test split.

The hash is splitmix64 over the IEEE-754 bits of each value, in numpy uint64
arithmetic: no Python ``hash()`` (salted per process) and no library whose hash may
change between versions. ``SPLIT_METHOD`` names it; change the name if it ever changes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from taxi_fare.errors import TaxiFareError
from taxi_fare.schema import FEATURES, TARGET

if TYPE_CHECKING:
    import pyarrow as pa

DATA_FILE = "data.parquet"
SPLIT_FILE = "split.json"
MLTABLE = "paths:\n  - file: ./data.parquet\ntransformations:\n  - read_parquet\n"
SPLIT_METHOD = "row-hash-v1"
#: Fields that identify a trip, hashed in this order (renaming one changes every side).
KEY_COLUMNS: tuple[str, ...] = (*FEATURES, TARGET)
#: Registry tags that record a model's split, so a later gate knows its training rows.
SPLIT_TAGS = ("split_method", "split_seed", "split_test_size")

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX_1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX_2 = np.uint64(0x94D049BB133111EB)
_MASK64 = (1 << 64) - 1


class SplitError(TaxiFareError):
    """The split cannot be made or a split folder cannot be read."""


@dataclass(frozen=True)
class SplitSpec:
    """How a split was made: enough to recompute any row's side."""

    seed: int
    test_size: float
    method: str = SPLIT_METHOD

    def __post_init__(self) -> None:
        if not 0.0 < self.test_size < 1.0:
            raise SplitError(f"test_size must be between 0 and 1, got {self.test_size}")

    def to_dict(self) -> dict[str, object]:
        return {**asdict(self), "key_columns": list(KEY_COLUMNS)}

    def tags(self) -> dict[str, str]:
        return {
            "split_method": self.method,
            "split_seed": str(self.seed),
            "split_test_size": repr(float(self.test_size)),
        }

    @classmethod
    def from_tags(cls, tags: Mapping[str, str]) -> SplitSpec | None:
        """The split recorded on a model version; None when it carries no split tags."""
        if not all(tags.get(key) for key in SPLIT_TAGS):
            return None
        try:
            return cls(
                int(tags["split_seed"]), float(tags["split_test_size"]), tags["split_method"]
            )
        except ValueError as exc:
            raise SplitError(
                f"split tags {dict((k, tags[k]) for k in SPLIT_TAGS)}: {exc}"
            ) from None


_SHIFTS = (np.uint64(30), np.uint64(27), np.uint64(31))


def _mix(x: np.ndarray, scratch: np.ndarray) -> None:
    """splitmix64 finaliser of ``x`` in place (wrapping uint64 arithmetic)."""
    np.right_shift(x, _SHIFTS[0], out=scratch)
    x ^= scratch
    x *= _MIX_1
    np.right_shift(x, _SHIFTS[1], out=scratch)
    x ^= scratch
    x *= _MIX_2
    np.right_shift(x, _SHIFTS[2], out=scratch)
    x ^= scratch


#: An odd multiplier per key column, so equal values in two columns hash apart.
_COLUMN_KEYS = tuple(
    np.uint64((0x9E3779B97F4A7C15 * (2 * i + 1)) & _MASK64) for i in range(len(KEY_COLUMNS))
)


def row_hashes(table: pd.DataFrame | Mapping[str, np.ndarray], seed: int) -> np.ndarray:
    """One uint64 per row from ``KEY_COLUMNS`` and ``seed``; needs no other row."""
    n = len(np.asarray(table[KEY_COLUMNS[0]]))
    state = np.full(n, np.uint64(seed & _MASK64) ^ _GOLDEN, dtype=np.uint64)
    scratch = np.empty(n, dtype=np.uint64)
    _mix(state, scratch)
    bits = np.empty(n, dtype=np.uint64)
    for name, key in zip(KEY_COLUMNS, _COLUMN_KEYS, strict=True):
        values = np.asarray(table[name], dtype="float64")
        np.add(values, 0.0, out=bits.view(np.float64))  # -0.0 hashes as 0.0
        nan = np.isnan(values)
        if nan.any():
            bits.view(np.float64)[nan] = np.nan  # one NaN bit pattern
        bits *= key
        state ^= bits
        _mix(state, scratch)
    return state


def holdout_fraction(table: pd.DataFrame | Mapping[str, np.ndarray], seed: int) -> np.ndarray:
    """Each row's uniform number in [0, 1): the top 53 bits of its hash."""
    return (row_hashes(table, seed) >> np.uint64(11)).astype("float64") * 2.0**-53


def is_test(table: pd.DataFrame | Mapping[str, np.ndarray], spec: SplitSpec) -> np.ndarray:
    """Boolean mask: the rows ``spec`` puts on the test side (whatever table they came in)."""
    return holdout_fraction(table, spec.seed) < spec.test_size


def holdout_mask(
    table: pd.DataFrame | Mapping[str, np.ndarray], test_size: float, seed: int
) -> np.ndarray:
    """``is_test`` checked: both sides must hold rows."""
    mask = is_test(table, SplitSpec(seed, test_size))
    n, n_test = len(mask), int(np.count_nonzero(mask))
    if n_test < 1 or n_test >= n:
        raise SplitError(
            f"{n} rows cannot be split with test_size {test_size}: need rows on both sides "
            f"(the hash put {n_test} on the test side)"
        )
    return mask


def seeded_split(
    table: pd.DataFrame, test_size: float, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train and test rows of ``table`` in their original order (see the module docstring)."""
    mask = holdout_mask(table, test_size, seed)
    return table[~mask].reset_index(drop=True), table[mask].reset_index(drop=True)


def split_columns(
    columns: dict[str, np.ndarray], test_size: float, seed: int
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """``seeded_split`` of a table held as columns, emptying ``columns`` as it goes.

    Each source column is released once both halves are taken, so the split needs
    one extra column of memory, not a second copy of the table.
    """
    mask = holdout_mask(columns, test_size, seed)
    train: dict[str, np.ndarray] = {}
    test: dict[str, np.ndarray] = {}
    for name in list(columns):
        values = columns.pop(name)
        train[name], test[name] = values[~mask], values[mask]
        del values
    return train, test


#: Columns written without a parquet dictionary: coordinates take nearly as many values as
#: rows, so trying a dictionary on them only costs time (about half of a part's write).
PLAIN_COLUMNS: tuple[str, ...] = (
    "pickup_latitude",
    "pickup_longitude",
    "dropoff_latitude",
    "dropoff_longitude",
)


def split_table(columns: Mapping[str, np.ndarray]) -> pa.Table:
    """The rows of a split side as an arrow table: ``KEY_COLUMNS``, float64, in that order."""
    import pyarrow as pa

    return pa.table({name: np.asarray(columns[name], dtype="float64") for name in KEY_COLUMNS})


def parquet_options() -> dict[str, object]:
    """Writer options of every split parquet file prep writes (see ``PLAIN_COLUMNS``)."""
    return {"use_dictionary": [c for c in KEY_COLUMNS if c not in PLAIN_COLUMNS]}


def write_parquet(table: pa.Table, path: Path) -> None:
    """``table`` as one parquet file at ``path`` with ``parquet_options``."""
    import pyarrow.parquet as pq

    pq.write_table(table, path, **parquet_options())


def write_split(
    table: pd.DataFrame | Mapping[str, np.ndarray], folder: Path, spec: SplitSpec | None = None
) -> None:
    """``data.parquet`` (20 features + cost), ``MLTable`` and ``split.json`` in ``folder``.

    The parquet file is written beside its final name and renamed into place, so a run
    killed while writing never leaves half a file under the name a reader opens.
    """
    import os

    import pyarrow as pa
    import pyarrow.parquet as pq

    folder.mkdir(parents=True, exist_ok=True)
    names = [*FEATURES, TARGET]
    partial = folder / f".{DATA_FILE}.partial"
    if isinstance(table, pd.DataFrame):
        table[names].to_parquet(partial, index=False)
    else:
        arrow = pa.table({name: np.asarray(table[name], dtype="float64") for name in names})
        pq.write_table(arrow, partial)
    os.replace(partial, folder / DATA_FILE)
    (folder / "MLTable").write_text(MLTABLE)
    if spec is not None:
        (folder / SPLIT_FILE).write_text(json.dumps(spec.to_dict(), indent=2) + "\n")


def read_split_spec(folder: str | Path) -> SplitSpec:
    """The ``split.json`` prep wrote beside a split: how its rows were assigned."""
    path = Path(folder) / SPLIT_FILE
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        spec = SplitSpec(int(raw["seed"]), float(raw["test_size"]), str(raw["method"]))
    except FileNotFoundError:
        raise SplitError(
            f"{path}: not found; the split's rows cannot be told apart (write it with prep.py)"
        ) from None
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise SplitError(f"{path}: not a split description ({exc!r})") from None
    if spec.method != SPLIT_METHOD:
        raise SplitError(f"{path}: split method {spec.method!r} is not {SPLIT_METHOD!r}")
    return spec


def read_split(folder: str | Path) -> pd.DataFrame:
    """A split folder (or a parquet file) written by prep; checks the columns by name."""
    path = Path(folder)
    file = path / DATA_FILE if path.is_dir() else path
    parts = sorted(path.glob("part-*.parquet")) if path.is_dir() else []
    if parts and not file.exists():  # the parts layout of taxi_fare.combine
        file = path
    elif not file.exists():
        raise SplitError(f"{path}: no {DATA_FILE} found (expected a folder written by prep.py)")
    try:
        if parts and file == path:
            import pyarrow.parquet as pq

            table: pd.DataFrame = pq.read_table([str(p) for p in parts]).to_pandas()
        else:
            table = pd.read_parquet(file)
    except Exception as exc:  # pyarrow raises several types for a corrupt file
        raise SplitError(f"{file}: cannot read parquet: {exc}") from exc
    missing = [c for c in (*FEATURES, TARGET) if c not in table.columns]
    if missing:
        raise SplitError(f"{file}: missing column {missing[0]!r}")
    if table.empty:
        raise SplitError(f"{file}: holds no rows")
    return table
