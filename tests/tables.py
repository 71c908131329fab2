"""Whole-table pandas twins of prep's streamed read and clean: references for the tests.

prep reads its inputs file by file and block by block (``taxi_fare.ingest.iter_batches``,
``taxi_fare.prep_file``, ``taxi_fare.cleaning.clean_inputs``); these load every input into
one DataFrame and clean it in one go, simple enough to trust as the reference the streamed
path is checked against. Nothing outside the tests reads a whole table this way (the
quality benchmark runs prep.py itself).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from taxi_fare.cleaning import keep_mask
from taxi_fare.ingest import (
    InputError,
    InputFile,
    detect_kind,
    expand_inputs,
    fingerprint,
    read_feature_table,
    read_header,
    read_raw,
)
from taxi_fare.schema import FEATURE_TABLE, FEATURES, TARGET


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
        frames.append(frame)
        described.append(InputFile(path, kind, len(frame)))
    return pd.concat(frames, ignore_index=True), described, fingerprint(files)


@dataclass(frozen=True)
class CleanResult:
    kept: pd.DataFrame
    dropped: dict[str, int]

    @property
    def rows_dropped(self) -> int:
        return sum(self.dropped.values())


def clean(trips: pd.DataFrame) -> CleanResult:
    """Apply the rules to a whole table; ``kept`` holds the 20 features and the target."""
    mask, dropped = keep_mask(trips)
    kept = trips.loc[mask, [*FEATURES, TARGET]].reset_index(drop=True)
    return CleanResult(kept, dropped)
