"""Prep of ONE raw file on its own: read, validate, clean, featurise, split -> two tables.

A row's side of the split is a function of the row (``taxi_fare.split``), so a file
needs no other file to be split: each streamed block is cleaned and hashed once, and
its kept rows go straight into the train or the test columns (no second pass over the
file's rows). ``prepare_file`` hands back the two sides as arrow tables, for prep.py,
which writes them once into the split folders in file order (``taxi_fare.combine``);
``prep_file`` writes them as parquet parts, for the Azure ML parallel job
(``prep_parallel.py``), whose combine step reads the parts. Either way a small summary
(rows read, drops per rule, rows per side) goes to the combine step. Peak memory is one
file's kept rows per worker, whatever the number of files.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from taxi_fare.cleaning import _MIN_LINE_BYTES, RULES, FileTally, _KeptRows, kept_batches
from taxi_fare.ingest import InputError, detect_kind, read_header
from taxi_fare.split import KEY_COLUMNS, SplitSpec, is_test, split_table, write_parquet

if TYPE_CHECKING:
    import pyarrow as pa


PART_SUFFIX = ".parquet"


@dataclass(frozen=True)
class FileSummary:
    """What one file contributed: the combine step adds these up."""

    path: str
    kind: str
    rows: int
    dropped: dict[str, int]
    train_rows: int
    test_rows: int
    part: str  # file name of its part in the train and the test parts folder

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str, where: str) -> FileSummary:
        try:
            raw = json.loads(text)
            summary = cls(
                path=str(raw["path"]),
                kind=str(raw["kind"]),
                rows=int(raw["rows"]),
                dropped={str(k): int(v) for k, v in raw["dropped"].items()},
                train_rows=int(raw["train_rows"]),
                test_rows=int(raw["test_rows"]),
                part=str(raw["part"]),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise InputError(f"{where}: not a per-file prep summary ({exc!r})") from None
        unknown = set(summary.dropped) - {reason for reason, _ in RULES}
        if unknown:
            raise InputError(f"{where}: unknown drop reason {sorted(unknown)[0]!r}")
        return summary

    def order_key(self) -> tuple[str, str]:
        """Files are combined in the order ``ingest.expand_inputs`` lists them: by name."""
        return Path(self.path).name, self.path


@dataclass(frozen=True)
class PreparedFile:
    """One file's kept rows, side by side (20 features + cost, float64), and its summary."""

    summary: FileSummary
    train: pa.Table
    test: pa.Table


def part_name(path: Path) -> str:
    """A part file name unique per input path (two folders may both hold ``green_001.csv``)."""
    digest = hashlib.sha256(str(path).encode("utf-8")).hexdigest()[:12]
    return f"{path.stem}-{digest}{PART_SUFFIX}"


def write_part(table: pa.Table, target: Path) -> None:
    """One side of a file as parquet, written beside ``target`` and renamed."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    write_parquet(table, partial)
    os.replace(partial, target)


def _append(side: _KeptRows, batch: Mapping[str, np.ndarray], mask: np.ndarray) -> None:
    if mask.any():
        side.append(batch, mask)


def prepare_file(path: Path, spec: SplitSpec, kind: str | None = None) -> PreparedFile:
    """Clean and split one file in memory, block by block; every error names the file."""
    path = Path(path)
    if kind is None:
        kind = detect_kind(path, read_header(path))
    # Capacity from the file size: pages never written cost no memory (see _KeptRows).
    capacity = path.stat().st_size // _MIN_LINE_BYTES + 1024
    train, test = _KeptRows(KEY_COLUMNS, capacity), _KeptRows(KEY_COLUMNS, capacity)
    tally = FileTally()
    for batch, keep in kept_batches(path, kind, tally):
        side = is_test(batch, spec)  # the row's own hash: the same on every row it keeps
        _append(test, batch, keep & side)
        _append(train, batch, keep & ~side)
        del batch
    summary = FileSummary(
        path=str(path),
        kind=kind,
        rows=tally.rows,
        dropped=tally.dropped,
        train_rows=train.size,
        test_rows=test.size,
        part=part_name(path),
    )
    sides = ({n: train.pop(n) for n in KEY_COLUMNS}, {n: test.pop(n) for n in KEY_COLUMNS})
    return PreparedFile(summary, split_table(sides[0]), split_table(sides[1]))


def prep_file(
    path: Path, spec: SplitSpec, train_dir: Path, test_dir: Path, kind: str | None = None
) -> FileSummary:
    """``prepare_file``, then both sides as parts in ``train_dir`` and ``test_dir``.

    Both parts are always written (an empty part keeps the schema), so the combine step
    finds two parts for every summary.
    """
    prepared = prepare_file(path, spec, kind)
    name = prepared.summary.part
    write_part(prepared.train, Path(train_dir) / name)
    write_part(prepared.test, Path(test_dir) / name)
    return prepared.summary
