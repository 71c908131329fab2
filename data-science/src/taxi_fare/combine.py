"""The combine step after per-file prep: totals, the drop-share check, the split folders.

Two ways in: ``combine`` works from the per-file summaries (``taxi_fare.prep_file``) and
their parquet parts (the parallel job's), one part at a time; ``prep_inputs`` (prep.py)
appends each file's prepared rows to the split files as they come, so each row is
written once. Either way memory is a few files, whatever the number of files. Nothing
is published before every check passed, and each output folder is built under a
temporary name and renamed (or, when the folder already exists, e.g. an Azure ML mount
point, filled with ``MLTable`` last): a folder that holds an ``MLTable`` is complete.

Layouts of a split folder:
- ``single``: ``data.parquet`` (row groups appended in file order), what prep.py always
  wrote, so every reader and test of it is unchanged;
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
from itertools import pairwise
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from taxi_fare.cleaning import RULES, check_drop_share
from taxi_fare.ingest import FileStream, InputError
from taxi_fare.prep_file import FileSummary
from taxi_fare.split import (
    DATA_FILE,
    KEY_COLUMNS,
    MLTABLE,
    SPLIT_FILE,
    SplitError,
    SplitSpec,
    parquet_options,
    split_table,
)
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
                if not line.strip() or ('"skipped"' in line and "skipped" in json.loads(line)):
                    continue  # a file the per-file job does not read (not a .csv)
                found.append(FileSummary.from_json(line, f"{file}:{number}"))
    return found


def ordered(summaries: Iterable[FileSummary]) -> list[FileSummary]:
    """In file-name order; the same file twice is refused (it would count twice)."""
    result = sorted(summaries, key=FileSummary.order_key)
    for before, after in pairwise(result):
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


def _make_folder(folder: Path) -> list[Path]:
    """Make ``folder`` with its missing parents; the folders made, innermost first."""
    made = [f for f in (folder, *folder.parents) if not f.exists()]
    folder.mkdir(parents=True, exist_ok=True)
    return made


def _staging(out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    _clear_stale(out)
    if out.exists():
        staging = out / f".partial-{os.getpid()}"
    else:
        staging = out.parent / f".{out.name}.partial-{os.getpid()}"
    staging.mkdir()
    return staging


class SplitWriter:
    """One split folder built under its staging name; ``publish_split`` moves it into place.

    ``single``: tables and parts are appended as row groups of one ``data.parquet``;
    ``parts``: parts are copied as they are. ``discard`` removes the staging folder.
    """

    def __init__(self, out: Path, spec: SplitSpec, layout: str = "single") -> None:
        if layout not in LAYOUTS:
            raise SplitError(f"layout {layout!r} is not one of {', '.join(LAYOUTS)}")
        self.out, self.spec, self.layout = Path(out), spec, layout
        self._made = _make_folder(self.out.parent)
        self.staging = _staging(self.out)
        self._parts = 0
        self._writer: pq.ParquetWriter | None = None
        if layout == "single":
            schema = split_table({name: np.empty(0) for name in KEY_COLUMNS}).schema
            self._writer = pq.ParquetWriter(
                self.staging / DATA_FILE,
                schema,
                **parquet_options(),
            )

    def write(self, table: pa.Table) -> None:
        """Rows appended to ``data.parquet`` (the ``single`` layout)."""
        if self._writer is None:
            raise SplitError(f"{self.out}: the {self.layout} layout takes parts, not rows")
        if table.num_rows:
            self._writer.write_table(table)

    def add_part(self, part: Path) -> None:
        """A per-file part: its row groups appended (``single``) or the file copied."""
        if self._writer is None:
            shutil.copyfile(part, self.staging / f"part-{self._parts:05d}.parquet")
        else:
            source = pq.ParquetFile(part)
            for group in range(source.num_row_groups):
                self.write(source.read_row_group(group))
        self._parts += 1

    def finish(self) -> None:
        """Close the parquet file, then ``split.json`` and, last, ``MLTable``."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        mltable = MLTABLE if self.layout == "single" else PARTS_MLTABLE
        (self.staging / SPLIT_FILE).write_text(json.dumps(self.spec.to_dict(), indent=2) + "\n")
        (self.staging / "MLTable").write_text(mltable)

    def discard(self) -> None:
        """Remove the staging folder and the (now empty) parent folders this writer made."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        shutil.rmtree(self.staging, ignore_errors=True)
        for folder in self._made:
            try:
                folder.rmdir()
            except OSError:  # not empty: another output lives there
                break


def publish_split(split: SplitWriter) -> None:
    """A filled split folder finished and moved into place: from now on it is complete."""
    split.finish()
    _publish(split.staging, split.out)


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


def _parts_of(summaries: list[FileSummary], folder: Path) -> list[Path]:
    files = [Path(folder) / s.part for s in summaries]
    missing = [f for f in files if not f.is_file()]
    if missing:
        raise InputError(f"{missing[0]}: part missing (its input file was not prepared)")
    return files


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
    sides = [_parts_of(summaries, folder) for folder in parts]
    for files, out in zip(sides, outputs[:2], strict=True):
        split = SplitWriter(out, spec, layout)
        try:
            for part in files:
                split.add_part(part)
        except BaseException:
            split.discard()
            raise
        publish_split(split)
    write_quality(quality, Path(outputs[2]))
    return quality


def prep_inputs(
    raw_data: Iterable[str | Path],
    spec: SplitSpec,
    outputs: tuple[Path, Path, Path],
    max_drop_fraction: float,
    source: str,
    workers: int | None = None,
) -> QualityReport:
    """prep on one node: each file through ``prepare_file`` on threads, written ONCE.

    The two sides of each file are appended, in file-name order, to the ``data.parquet``
    of the train and test staging folders (no per-file parts, no second write); the
    totals are checked once every file is in, and only then are the folders published
    (train, test, then the quality report). On any error the staging folders, and the
    parent folders made for them, are removed: nothing is left that looks complete.
    """
    from taxi_fare.memory import map_large_allocations
    from taxi_fare.prep_file import prepare_file

    map_large_allocations()  # a file's freed columns go back to the OS (taxi_fare.memory)
    sides: list[SplitWriter] = []
    summaries: list[FileSummary] = []
    with FileStream(
        raw_data, lambda path, kind: prepare_file(path, spec, kind), workers, name="prep"
    ) as stream:
        try:
            for prepared in stream:
                if not sides:  # made at the first good file: a bad header creates nothing
                    sides = [SplitWriter(out, spec) for out in outputs[:2]]
                sides[0].write(prepared.train)
                sides[1].write(prepared.test)
                summaries.append(prepared.summary)
                del prepared
            quality = quality_report(summaries, spec, stream.fingerprint())
            check_totals(quality, max_drop_fraction, source, spec)
        except BaseException:
            for side in reversed(sides):  # the second one's staging sits beside the first's
                side.discard()
            raise
    for side in sides:
        publish_split(side)
    write_quality(quality, Path(outputs[2]))
    return quality
