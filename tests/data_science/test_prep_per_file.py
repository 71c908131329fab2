"""Per-file prep + combine (issue 21): the same rows as the whole-table prep, a bad file
among many named, nothing left that looks complete, the parts layout read back."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import prep
import pytest
from taxi_fare.cleaning import clean_inputs
from taxi_fare.combine import combine, read_summaries
from taxi_fare.ingest import FileStream, InputError
from taxi_fare.prep_file import FileSummary, prep_file
from taxi_fare.schema import FEATURES, TARGET
from taxi_fare.split import SplitSpec, read_split, split_columns

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"
SPEC = SplitSpec(42, 0.3)


@pytest.fixture(autouse=True)
def _store(tracking_uri: str) -> None:
    """Good runs log to MLflow; keep them in the module's store."""


def argv(out: Path, *raw: Path) -> list[str]:
    return ["--raw_data", *map(str, raw), "--train_data", str(out / "train"),
            "--test_data", str(out / "test"), "--quality_report", str(out / "quality")]  # fmt: skip


def whole_table_split(raw: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Today's prep before issue 21: every kept row in memory, then one split."""
    train, test = split_columns(clean_inputs([raw]).columns, SPEC.test_size, SPEC.seed)
    names = [*FEATURES, TARGET]
    return pd.DataFrame(train)[names], pd.DataFrame(test)[names]


def test_sample_rows_identical_to_whole_table_prep(tmp_path: Path) -> None:
    assert prep.main(argv(tmp_path, SAMPLE)) == 0
    want_train, want_test = whole_table_split(SAMPLE)
    got_train = pd.read_parquet(tmp_path / "train/data.parquet")
    got_test = pd.read_parquet(tmp_path / "test/data.parquet")
    assert (len(got_train), len(got_test)) == (8099, 3493)
    pd.testing.assert_frame_equal(got_train, want_train)  # same rows, same order, each side
    pd.testing.assert_frame_equal(got_test, want_test)
    quality = json.loads((tmp_path / "quality/quality.json").read_text())
    assert [Path(f["path"]).name for f in quality["files"]] == [
        "green_001.csv", "green_002.csv", "yellow_001.csv", "yellow_002.csv"]  # fmt: skip
    assert quality["rows_read"] == 12000 and quality["rows_kept"] == 11592
    assert sorted(p.name for p in tmp_path.iterdir()) == ["quality", "test", "train"]


def many_files(folder: Path, copies: int = 6) -> Path:
    folder.mkdir()
    for index in range(copies):
        source = sorted(SAMPLE.glob("*.csv"))[index % 4]
        (folder / f"{source.stem}_{index:03d}.csv").write_bytes(source.read_bytes())
    return folder


@pytest.mark.parametrize(
    ("name", "content", "needle"),
    [
        ("yellow_004x.csv", bytes(range(256)) * 4, "not UTF-8"),  # corrupt: random bytes
        ("zones_004x.csv", b"LocationID,Borough,Zone\n1,EWR,Newark Airport\n", "neither green"),
    ],
)
def test_bad_file_among_many_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture, name: str, content: bytes, needle: str
) -> None:
    raw = many_files(tmp_path / "raw")
    bad = raw / name
    bad.write_bytes(content)
    out = tmp_path / "out"
    assert prep.main(argv(out, raw)) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(bad) in err[0] and needle in err[0], err
    assert not out.exists()


def test_a_bad_cell_fails_in_the_file_step_naming_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    raw = many_files(tmp_path / "raw", copies=3)
    broken = raw / "yellow_001_002.csv"  # a good header, then a row with a bad number
    lines = broken.read_text().splitlines()
    fields = lines[5].split(",")
    fields[4] = "twelve"  # tripDistance
    broken.write_text("\n".join([*lines[:5], ",".join(fields), *lines[6:]]) + "\n")
    out = tmp_path / "out"
    assert prep.main(argv(out, raw)) == 1
    err = capsys.readouterr().err.strip()
    assert str(broken) in err and "twelve" in err, err
    assert not out.exists()


def per_file(tmp_path: Path) -> tuple[list[FileSummary], Path]:
    parts = tmp_path / "parts"
    summaries = [
        prep_file(path, SPEC, parts / "train", parts / "test")
        for path in sorted(SAMPLE.glob("*.csv"), reverse=True)  # any order: combine sorts
    ]
    return summaries, parts


def test_parts_layout_reads_back_as_the_same_rows(tmp_path: Path) -> None:
    summaries, parts = per_file(tmp_path)
    rows = tmp_path / "rows.txt"  # the parallel job's append_row_to file: one JSON per line
    rows.write_text("".join(s.to_json() + "\n" for s in summaries))
    outputs = (tmp_path / "train", tmp_path / "test", tmp_path / "quality")
    quality = combine(read_summaries([rows]), (parts / "train", parts / "test"), outputs, SPEC,
                      0.2, "fp", source="sample", layout="parts")  # fmt: skip
    assert quality.train_rows == 8099 and quality.test_rows == 3493
    names = sorted(p.name for p in (tmp_path / "train").iterdir())
    assert names == ["MLTable", *[f"part-{i:05d}.parquet" for i in range(4)], "split.json"]
    assert "pattern: ./part-*.parquet" in (tmp_path / "train/MLTable").read_text()
    want_train, want_test = whole_table_split(SAMPLE)
    pd.testing.assert_frame_equal(read_split(tmp_path / "train"), want_train)
    pd.testing.assert_frame_equal(read_split(tmp_path / "test"), want_test)


def test_combine_checks_totals_before_writing(tmp_path: Path) -> None:
    from taxi_fare.cleaning import QualityError

    summaries, parts = per_file(tmp_path)
    outputs = (tmp_path / "train", tmp_path / "test", tmp_path / "quality")
    with pytest.raises(QualityError, match="more than max_drop_fraction 1%"):
        combine(summaries, (parts / "train", parts / "test"), outputs, SPEC, 0.01, "fp", "sample")
    assert not any(p.exists() for p in outputs)
    (parts / "test" / summaries[0].part).unlink()
    with pytest.raises(Exception, match=f"{summaries[0].part}: part missing"):
        combine(summaries, (parts / "train", parts / "test"), outputs, SPEC, 0.2, "fp", "sample")
    assert not any(p.exists() for p in outputs)


def test_existing_folder_is_refilled_with_mltable_last(tmp_path: Path) -> None:
    """An output folder that exists (an Azure ML mount point, a rerun) holds no stale part."""
    summaries, parts = per_file(tmp_path)
    train = tmp_path / "train"
    train.mkdir()
    (train / "part-00009.parquet").write_bytes(b"stale")
    outputs = (train, tmp_path / "test", tmp_path / "quality")
    combine(summaries, (parts / "train", parts / "test"), outputs, SPEC, 0.2, "fp", "s", "parts")
    assert not (train / "part-00009.parquet").exists()
    assert len(read_split(train)) == 8099
    assert not list(train.glob(".partial-*"))
    assert np.isfinite(read_split(train)[TARGET]).all()


def test_file_stream_holds_a_few_files_and_raises_the_first_error_in_file_order(
    tmp_path: Path,
) -> None:
    """prep's fan-out: at most workers + 1 files started beyond those taken, results in
    file order, and a late failure of file 3 wins over an early one of file 4."""
    import threading
    import time

    raw = many_files(tmp_path / "raw", copies=6)
    names = sorted(p.name for p in raw.glob("*.csv"))
    started: list[str] = []
    lock = threading.Lock()

    def work(path: Path, kind: str) -> str:
        with lock:
            started.append(path.name)
        if path.name == names[3]:
            time.sleep(0.3)
            raise InputError(f"{path}: slow failure")
        if path.name == names[4]:
            raise InputError(f"{path}: fast failure")
        return path.name

    taken: list[str] = []
    stream = FileStream([raw], work, workers=2)
    with pytest.raises(InputError, match=f"{names[3]}: slow failure"), stream:
        for name in stream:
            assert len(started) <= len(taken) + 2 + 1
            taken.append(name)
    assert taken == names[:3]


def test_prep_leaves_nothing_when_a_later_file_fails(tmp_path: Path) -> None:
    """Rows of the good files were already written to staging: all of it goes."""
    raw = many_files(tmp_path / "raw", copies=5)
    (raw / "yellow_002_004.csv").write_text(
        (SAMPLE / "yellow_002.csv").read_text().replace(",N,", ",maybe,", 1)
    )
    out = tmp_path / "deep" / "out"
    assert prep.main(argv(out, raw)) == 1
    assert not (tmp_path / "deep").exists()  # staging and the folders made for it
