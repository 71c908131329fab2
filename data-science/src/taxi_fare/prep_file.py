"""Prep of ONE raw file on its own: read, validate, clean, featurise, split -> two parquet parts.

A row's side of the split is a function of the row (``taxi_fare.split``), so a file
needs no other file to be split: its kept rows go to ``<train_dir>/<part>`` and
``<test_dir>/<part>``, and a small summary (rows read, drops per rule, rows per side)
goes to the combine step (``taxi_fare.combine``). Peak memory is one file's kept rows,
whatever the number of files. The same function is the Azure ML parallel job's
per-file work (``prep_parallel.py``) and prep.py's inner loop.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from taxi_fare.cleaning import RULES, _clean_file
from taxi_fare.ingest import InputError, detect_kind, read_header
from taxi_fare.split import KEY_COLUMNS, SplitSpec, is_test

log = logging.getLogger(__name__)

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


def part_name(path: Path) -> str:
    """A part file name unique per input path (two folders may both hold ``green_001.csv``)."""
    digest = hashlib.sha256(str(path).encode("utf-8")).hexdigest()[:12]
    return f"{path.stem}-{digest}{PART_SUFFIX}"


def write_part(columns: dict[str, np.ndarray], target: Path) -> None:
    """The 20 features + cost as float64 parquet, written beside ``target`` and renamed."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    table = pa.table({name: np.asarray(columns[name], dtype="float64") for name in KEY_COLUMNS})
    pq.write_table(table, partial)
    os.replace(partial, target)


def prep_file(
    path: Path, spec: SplitSpec, train_dir: Path, test_dir: Path, kind: str | None = None
) -> FileSummary:
    """Clean and split one file into ``train_dir`` and ``test_dir``; every error names it.

    Both parts are always written (an empty part keeps the schema), so the combine step
    finds two parts for every summary.
    """
    path = Path(path)
    if kind is None:
        kind = detect_kind(path, read_header(path))
    cleaned = _clean_file(path, kind)
    columns = {name: cleaned.kept.pop(name) for name in KEY_COLUMNS}
    test = is_test(columns, spec)
    name = part_name(path)
    write_part({n: v[~test] for n, v in columns.items()}, train_dir / name)
    write_part({n: v[test] for n, v in columns.items()}, test_dir / name)
    n_test = int(np.count_nonzero(test))
    return FileSummary(
        path=str(path),
        kind=kind,
        rows=cleaned.info.rows,
        dropped=dict(cleaned.dropped),
        train_rows=len(test) - n_test,
        test_rows=n_test,
        part=name,
    )
