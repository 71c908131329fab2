"""The combine step after per-file prep: totals, the drop-share check, the split folders.

Works from the per-file summaries (``taxi_fare.prep_file``) and their parquet parts, one
part at a time, so its memory is one part whatever the number of files. Nothing final
is written before every check passed, and each output folder is built under a temporary
name and renamed (or, when the folder already exists, e.g. an Azure ML mount point,
filled with ``MLTable`` last): a folder that holds an ``MLTable`` is complete.

Layouts of a split folder:
- ``single``: ``data.parquet`` (row groups streamed from the parts in file order), what
  prep.py always wrote, so every reader and test of it is unchanged;
- ``parts``: ``part-00000.parquet`` ... copied as they are (no re-encoding), one MLTable
  with a glob ``pattern`` (https://learn.microsoft.com/azure/machine-learning/reference-yaml-mltable:
  ``paths: - pattern:``), read back by ``taxi_fare.split.read_split``.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Iterable
from pathlib import Path

from taxi_fare.cleaning import RULES, check_drop_share
from taxi_fare.ingest import InputError
from taxi_fare.prep_file import FileSummary
from taxi_fare.split import DATA_FILE, MLTABLE, SPLIT_FILE, SplitError, SplitSpec
from taxi_fare.step_files import FileRows, QualityReport, write_quality

log = logging.getLogger(__name__)

LAYOUTS = ("single", "parts")
PART_GLOB = "part-*.parquet"
PARTS_MLTABLE = f"paths:\n  - pattern: ./{PART_GLOB}\ntransformations:\n  - read_parquet\n"


def read_summaries(files: Iterable[Path]) -> list[FileSummary]:
    """Summaries from JSON-lines files (the parallel job's ``append_row_to`` output)."""
    found: list[FileSummary] = []
    for file in files:
        with open(file, encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip() or '"skipped"' in line and "skipped" in json.loads(line):
                    continue  # a file the per-file job does not read (not a .csv)
                found.append(FileSummary.from_json(line, f"{file}:{number}"))
    return found


def ordered(summaries: Iterable[FileSummary]) -> list[FileSummary]:
    """In file-name order; the same file twice is refused (it would count twice)."""
    result = sorted(summaries, key=FileSummary.order_key)
    for before, after in zip(result, result[1:], strict=False):
        if before.path == after.path:
            raise InputError(f"{after.path}: prepared twice (two summaries name it)")
    return result


def _clear_stale(out: Path) -> None:
    """Staging folders a killed run left behind (never the output's own files)."""
    for stale in [*out.parent.glob(f".{out.name}.partial-*"), *out.glob(".partial-*")]:
        shutil.rmtree(stale, ignore_errors=True)


def _publish(staging: Path, out: Path) -> None:
    """Move a finished staging folder into place (see the module docstring)."""
    if not out.exists():
        os.rename(staging, out)
        return
    (out / "MLTable").unlink(missing_ok=True)  # from here on it no longer looks complete
    for old in [*out.glob(PART_GLOB), out / DATA_FILE, out / SPLIT_FILE]:
        old.unlink(missing_ok=True)
    for item in sorted(staging.iterdir()):
        if item.name != "MLTable":
            os.replace(item, out / item.name)
    os.replace(staging / "MLTable", out / "MLTable")
    staging.rmdir()


def _staging(out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    _clear_stale(out)
    if out.exists():
        staging = out / f".partial-{os.getpid()}"
    else:
        staging = out.parent / f".{out.name}.partial-{os.getpid()}"
    staging.mkdir()
    return staging


def publish_split(parts: list[Path], out: Path, spec: SplitSpec, layout: str = "single") -> None:
    """One split folder from ``parts`` (in order): parquet, ``MLTable``, ``split.json``."""
    import pyarrow.parquet as pq

    if layout not in LAYOUTS:
        raise SplitError(f"layout {layout!r} is not one of {', '.join(LAYOUTS)}")
    out = Path(out)
    staging = _staging(out)
    if layout == "single":
        writer = None
        try:
            for part in parts:
                source = pq.ParquetFile(part)
                if writer is None:
                    writer = pq.ParquetWriter(staging / DATA_FILE, source.schema_arrow)
                for group in range(source.num_row_groups):
                    writer.write_table(source.read_row_group(group))
        finally:
            if writer is not None:
                writer.close()
        mltable = MLTABLE
    else:
        for index, part in enumerate(parts):
            shutil.copyfile(part, staging / f"part-{index:05d}.parquet")
        mltable = PARTS_MLTABLE
    (staging / SPLIT_FILE).write_text(json.dumps(spec.to_dict(), indent=2) + "\n")
    (staging / "MLTable").write_text(mltable)
    _publish(staging, out)


def quality_report(
    summaries: list[FileSummary], spec: SplitSpec, data_fingerprint: str
) -> QualityReport:
    """The quality report prep.py has always written, added up from the per-file summaries."""
    rows_read = sum(s.rows for s in summaries)
    dropped = {reason: sum(s.dropped.get(reason, 0) for s in summaries) for reason, _ in RULES}
    return QualityReport(
        files=tuple(FileRows(s.path, s.kind, s.rows) for s in summaries),
        rows_read=rows_read,
        dropped=dropped,
        rows_kept=rows_read - sum(dropped.values()),
        train_rows=sum(s.train_rows for s in summaries),
        test_rows=sum(s.test_rows for s in summaries),
        data_fingerprint=data_fingerprint,
        split=spec.to_dict(),
    )


def check_totals(
    quality: QualityReport, max_drop_fraction: float, source: str, spec: SplitSpec
) -> None:
    """The drop-share check on the totals, and rows on both sides of the split."""
    check_drop_share(quality.rows_read, quality.dropped, max_drop_fraction, source=source)
    n, n_test = quality.rows_kept, quality.test_rows
    if n_test < 1 or n_test >= n:  # the message of split.holdout_mask, on the totals
        raise SplitError(
            f"{n} rows cannot be split with test_size {spec.test_size}: need rows on both sides "
            f"(the hash put {n_test} on the test side)"
        )


def combine(
    summaries: Iterable[FileSummary],
    parts: tuple[Path, Path],
    outputs: tuple[Path, Path, Path],
    spec: SplitSpec,
    max_drop_fraction: float,
    data_fingerprint: str,
    source: str,
    layout: str = "single",
) -> QualityReport:
    """Check the totals, then publish train, test and the quality report; the report.

    ``parts`` are the train and test parts folders, ``outputs`` the train, test and
    quality report folders. Every summary's two parts must exist.
    """
    summaries = ordered(summaries)
    if not summaries:
        raise InputError(f"{source}: no per-file prep summaries to combine")
    quality = quality_report(summaries, spec, data_fingerprint)
    check_totals(quality, max_drop_fraction, source, spec)
    sides = []
    for folder in parts:
        files = [Path(folder) / s.part for s in summaries]
        missing = [f for f in files if not f.is_file()]
        if missing:
            raise InputError(f"{missing[0]}: part missing (its input file was not prepared)")
        sides.append(files)
    train_out, test_out, quality_out = (Path(p) for p in outputs)
    publish_split(sides[0], train_out, spec, layout)
    publish_split(sides[1], test_out, spec, layout)
    write_quality(quality, quality_out)
    return quality
