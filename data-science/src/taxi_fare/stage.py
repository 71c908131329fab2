"""The stage test set: the newest trips by pickup time, cleaned, disjoint from training rows.

How the slice is chosen (see docs/promotion.md):
1. read the raw files (green, yellow or the feature table) and apply the same
   data-quality rules as prep (``taxi_fare.cleaning.RULES``);
2. remove every row that also appears in the excluded data (the training split),
   matched on the 20 features and the cost, so the stage set is disjoint from the
   rows the model learnt from even when the same raw files are passed;
3. keep the newest ``newest_fraction`` of what is left, ordered by pickup time (the
   raw pickup timestamp; a feature table has no year, so its order is month, day
   and time of day within a year).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from taxi_fare.cleaning import RULES
from taxi_fare.errors import TaxiFareError
from taxi_fare.ingest import (
    InputFile,
    detect_kind,
    expand_inputs,
    fingerprint,
    read_feature_table,
    read_header,
    read_raw,
)
from taxi_fare.schema import FEATURE_TABLE, FEATURES, RAW_LAYOUTS, TARGET
from taxi_fare.split import read_split
from taxi_fare.step_files import FileRows, StageReport

log = logging.getLogger(__name__)

ORDER = "pickup_order"  # helper column: sortable pickup time
ROUND_DECIMALS = 6  # row identity ignores float noise below this


class StageDataError(TaxiFareError):
    """The stage test set cannot be made from the given inputs."""


@dataclass
class StageSet:
    table: pd.DataFrame  # the 20 features and cost, oldest pickup first
    files: list[InputFile]
    rows_read: int
    dropped: dict[str, int]
    excluded: int
    eligible: int
    ordered_by: str
    data_fingerprint: str
    pickup_range: tuple[str, str] = ("", "")
    exclude_paths: list[str] = field(default_factory=list)

    def report(self) -> StageReport:
        """What ``stage_report.json`` says about this set (``step_files.write_stage_report``)."""
        return StageReport(
            files=tuple(FileRows(str(f.path), f.kind, f.rows) for f in self.files),
            rows_read=self.rows_read,
            dropped=self.dropped,
            excluded_training_rows=self.excluded,
            exclude_data=tuple(self.exclude_paths),
            rows_eligible=self.eligible,
            rows_selected=len(self.table),
            ordered_by=self.ordered_by,
            pickup_from=self.pickup_range[0],
            pickup_to=self.pickup_range[1],
            data_fingerprint=self.data_fingerprint,
        )


def within_year_order(table: pd.DataFrame) -> pd.Series:
    """Seconds since 1 January, from the pickup features (month, day, time of day)."""
    return (
        (table["pickup_month"] - 1) * 31 * 86400
        + (table["pickup_monthday"] - 1) * 86400
        + table["pickup_hour"] * 3600
        + table["pickup_minute"] * 60
        + table["pickup_second"]
    ).astype("float64")


def _pickup_seconds(path: Path, kind: str) -> pd.Series:
    column = next(c for c in RAW_LAYOUTS[kind].datetime_columns if "ickup" in c)
    raw = pd.read_csv(path, usecols=[column], dtype=str, keep_default_na=False, na_values=[""])
    stamps = pd.to_datetime(raw[column], format="ISO8601", errors="coerce")
    return (stamps - pd.Timestamp(0)).dt.total_seconds()


def read_trips(paths: Iterable[str | Path]) -> tuple[pd.DataFrame, list[InputFile], str, str]:
    """Features, cost and a pickup order per row; the last item says how rows are ordered."""
    files = expand_inputs(paths)
    frames, described, kinds = [], [], set()
    for path in files:
        kind = detect_kind(path, read_header(path))
        kinds.add(kind)
        if kind == FEATURE_TABLE:
            frame = read_feature_table(path)
        else:
            frame = read_raw(path, kind)
            frame[ORDER] = _pickup_seconds(path, kind)
        if frame.empty:
            raise StageDataError(f"{path}: file has a header but no rows")
        frames.append(frame)
        described.append(InputFile(path, kind, len(frame)))
    trips = pd.concat(frames, ignore_index=True)
    if FEATURE_TABLE in kinds:
        # Without a year on some rows, only the within-year order is comparable across files.
        trips[ORDER] = within_year_order(trips)
        ordered_by = "pickup month, day and time of day (feature table has no year)"
    else:
        ordered_by = "pickup timestamp"
    return trips, described, fingerprint(files), ordered_by


def keep_mask(trips: pd.DataFrame) -> tuple[pd.Series, dict[str, int]]:
    """Rows passing prep's data-quality rules, and drop counts per rule (first failure)."""
    remaining = pd.Series(True, index=trips.index)
    dropped: dict[str, int] = {}
    for reason, rule in RULES:
        failing = rule(trips).fillna(False).astype(bool) & remaining
        dropped[reason] = int(failing.sum())
        remaining &= ~failing
    return remaining, dropped


def row_keys(table: pd.DataFrame) -> pd.Series:
    """A hash per row over the 20 features and cost (rounded), independent of the index."""
    values = table[[*FEATURES, TARGET]].astype("float64").round(ROUND_DECIMALS)
    return pd.util.hash_pandas_object(values, index=False)


def read_excluded(paths: Sequence[str | Path]) -> pd.DataFrame:
    """Rows that must not be in the stage set: split folders (or parquet files) from prep."""
    tables = [read_split(p) for p in paths]
    if not tables:
        return pd.DataFrame(columns=[*FEATURES, TARGET])
    return pd.concat(tables, ignore_index=True)


def newest(table: pd.DataFrame, fraction: float) -> pd.DataFrame:
    """The newest ``fraction`` of rows by pickup order (at least one row), oldest first."""
    if not 0.0 < fraction <= 1.0:
        raise StageDataError(f"newest_fraction must be in (0, 1], got {fraction}")
    ordered = table.sort_values(ORDER, kind="stable")
    count = max(1, math.ceil(len(ordered) * fraction))
    return ordered.iloc[len(ordered) - count :]


def build_stage_set(
    raw_paths: Sequence[str | Path],
    exclude_paths: Sequence[str | Path] = (),
    newest_fraction: float = 0.2,
    min_rows: int = 20,
) -> StageSet:
    """Read, clean, drop training rows, take the newest slice; fail below ``min_rows``."""
    if not 0.0 < newest_fraction <= 1.0:
        raise StageDataError(f"newest_fraction must be in (0, 1], got {newest_fraction}")
    trips, files, data_fingerprint, ordered_by = read_trips(raw_paths)
    mask, dropped = keep_mask(trips)
    kept = trips.loc[mask & trips[ORDER].notna()]
    excluded_rows = read_excluded(exclude_paths)
    in_training = (
        row_keys(kept).isin(set(row_keys(excluded_rows)))
        if len(excluded_rows)
        else (pd.Series(False, index=kept.index))
    )
    eligible = kept.loc[~in_training.to_numpy()]
    if eligible.empty:
        raise StageDataError(
            f"no stage rows left: {len(trips):,} read, {len(kept):,} pass the quality rules, "
            f"all {int(in_training.sum()):,} of those are in the excluded (training) data"
        )
    chosen = newest(eligible, newest_fraction)
    if len(chosen) < min_rows:
        raise StageDataError(
            f"only {len(chosen)} stage rows selected (newest {newest_fraction:.0%} of "
            f"{len(eligible):,} eligible), fewer than min_rows {min_rows}"
        )
    order = chosen[ORDER].to_numpy()
    return StageSet(
        table=chosen[[*FEATURES, TARGET]].reset_index(drop=True),
        files=files,
        rows_read=len(trips),
        dropped=dropped,
        excluded=int(in_training.sum()),
        eligible=len(eligible),
        ordered_by=ordered_by,
        data_fingerprint=data_fingerprint,
        pickup_range=(_describe(order.min(), ordered_by), _describe(order.max(), ordered_by)),
        exclude_paths=[str(p) for p in exclude_paths],
    )


def _describe(seconds: float, ordered_by: str) -> str:
    if ordered_by == "pickup timestamp":
        return pd.Timestamp(int(np.round(seconds)), unit="s").isoformat()
    days, rest = divmod(int(seconds), 86400)
    month, day = divmod(days, 31)
    hours, minutes, secs = rest // 3600, rest % 3600 // 60, rest % 60
    return f"--{month + 1:02d}-{day + 1:02d}T{hours:02d}:{minutes:02d}:{secs:02d}"
