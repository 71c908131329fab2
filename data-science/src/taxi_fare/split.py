"""Seeded train/test split and the split folders (parquet + MLTable) Azure AutoML reads."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from taxi_fare.errors import TaxiFareError
from taxi_fare.schema import FEATURES, TARGET

DATA_FILE = "data.parquet"
MLTABLE = "paths:\n  - file: ./data.parquet\ntransformations:\n  - read_parquet\n"


class SplitError(TaxiFareError):
    """The split cannot be made or a split folder cannot be read."""


def split_indices(n: int, test_size: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted (train, test) row positions: shuffle with ``seed`` and cut off the test share."""
    if not 0.0 < test_size < 1.0:
        raise SplitError(f"test_size must be between 0 and 1, got {test_size}")
    n_test = int(round(n * test_size))
    if n_test < 1 or n_test >= n:
        raise SplitError(
            f"{n} rows cannot be split with test_size {test_size}: need rows on both sides"
        )
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[n_test:]), np.sort(order[:n_test])


def seeded_split(
    table: pd.DataFrame, test_size: float, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Shuffle with ``seed`` and cut: the same rows and seed always give the same split."""
    train, test = split_indices(len(table), test_size, seed)
    return table.iloc[train].reset_index(drop=True), table.iloc[test].reset_index(drop=True)


def split_columns(
    columns: dict[str, np.ndarray], test_size: float, seed: int
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """``seeded_split`` of a table held as columns, emptying ``columns`` as it goes.

    Each source column is released once both halves are taken, so the split needs
    one extra column of memory, not a second copy of the table.
    """
    n = len(next(iter(columns.values()))) if columns else 0
    train_rows, test_rows = split_indices(n, test_size, seed)
    train: dict[str, np.ndarray] = {}
    test: dict[str, np.ndarray] = {}
    for name in list(columns):
        values = columns.pop(name)
        train[name], test[name] = values[train_rows], values[test_rows]
        del values
    return train, test


def write_split(table: pd.DataFrame | Mapping[str, np.ndarray], folder: Path) -> None:
    """``data.parquet`` (20 features + cost) and an ``MLTable`` file in ``folder``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder.mkdir(parents=True, exist_ok=True)
    names = [*FEATURES, TARGET]
    if isinstance(table, pd.DataFrame):
        table[names].to_parquet(folder / DATA_FILE, index=False)
    else:
        arrow = pa.table({name: np.asarray(table[name], dtype="float64") for name in names})
        pq.write_table(arrow, folder / DATA_FILE)
    (folder / "MLTable").write_text(MLTABLE)


def read_split(folder: str | Path) -> pd.DataFrame:
    """A split folder (or a parquet file) written by prep; checks the columns by name."""
    path = Path(folder)
    file = path / DATA_FILE if path.is_dir() else path
    if not file.exists():
        raise SplitError(f"{path}: no {DATA_FILE} found (expected a folder written by prep.py)")
    try:
        table = pd.read_parquet(file)
    except Exception as exc:  # pyarrow raises several types for a corrupt file
        raise SplitError(f"{file}: cannot read parquet: {exc}") from exc
    missing = [c for c in (*FEATURES, TARGET) if c not in table.columns]
    if missing:
        raise SplitError(f"{file}: missing column {missing[0]!r}")
    if table.empty:
        raise SplitError(f"{file}: holds no rows")
    return table
