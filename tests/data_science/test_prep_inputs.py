"""prep.py on good and bad inputs: every bad input is one line naming file/column/value, exit 1,
and no output folder written."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import prep
import pytest
from taxi_fare.schema import FEATURES, TARGET
from taxi_fare.split import SplitSpec, is_test

from tests.data_science.ds_rows import (
    GREEN_HEADER,
    GREEN_ROW,
    YELLOW_HEADER,
    YELLOW_ROW,
    green_rows,
    write_csv,
)


def run_prep(tmp_path: Path, *raw: str | Path, extra: tuple[str, ...] = ()) -> int:
    out = tmp_path / "out"
    argv = [
        "--raw_data",
        *map(str, raw),
        "--train_data",
        str(out / "train"),
        "--test_data",
        str(out / "test"),
        "--quality_report",
        str(out / "quality"),
        *extra,
    ]
    return prep.main(argv)


def assert_refused(code: int, capsys: pytest.CaptureFixture, tmp_path: Path, *needles: str):
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert len(err) == 1 and err[0].startswith("error: "), err
    for needle in needles:
        assert needle in err[0], (needle, err[0])
    assert not (tmp_path / "out").exists(), "prep left partial output behind"


@pytest.fixture(autouse=True)
def _store(tracking_uri: str) -> None:
    """Good runs log to MLflow; keep them in the module's store."""


def test_good_raw_folder(raw_folder: Path, tmp_path: Path) -> None:
    assert run_prep(tmp_path, raw_folder) == 0
    quality = json.loads((tmp_path / "out/quality/quality.json").read_text())
    kinds = sorted(f["kind"] for f in quality["files"])
    assert kinds == ["green", "yellow"]
    assert quality["rows_read"] == sum(f["rows"] for f in quality["files"]) == 600
    assert quality["rows_kept"] == quality["rows_read"] - sum(quality["dropped"].values())
    assert quality["train_rows"] + quality["test_rows"] == quality["rows_kept"]
    # The side of each row is its hash: 173 of these 570 rows hash below 0.3 with seed 42,
    # within three binomial standard deviations (33 rows) of the nominal 171.
    assert quality["test_rows"] == 173 and quality["rows_kept"] == 570
    assert quality["split"] == {
        "seed": 42, "test_size": 0.3, "method": "row-hash-v1", "key_columns": [*FEATURES, TARGET]
    }  # fmt: skip
    assert 0 < sum(quality["dropped"].values()) < 0.1 * 600  # the generator's dirt is caught
    assert len(quality["data_fingerprint"]) == 64
    train = pd.read_parquet(tmp_path / "out/train/data.parquet")
    test = pd.read_parquet(tmp_path / "out/test/data.parquet")
    spec = SplitSpec(42, 0.3)
    assert is_test(test, spec).all() and not is_test(train, spec).any()
    assert list(train.columns) == [*FEATURES, TARGET]
    assert (train[TARGET] > 0).all() and (train["distance"] > 0).all()
    assert train["passengers"].between(1, 6).all()
    mltable = (tmp_path / "out/test/MLTable").read_text()
    assert "file: ./data.parquet" in mltable and "read_parquet" in mltable


def test_same_seed_same_split(raw_folder: Path, tmp_path: Path) -> None:
    assert run_prep(tmp_path / "a", raw_folder) == 0
    assert run_prep(tmp_path / "b", raw_folder) == 0
    assert run_prep(tmp_path / "c", raw_folder, extra=("--seed", "8")) == 0
    read = lambda p: pd.read_parquet(tmp_path / p / "out/test/data.parquet")  # noqa: E731
    pd.testing.assert_frame_equal(read("a"), read("b"))
    assert not read("a").equals(read("c"))


def test_feature_table_layout(tmp_path: Path, raw_folder: Path) -> None:
    """The mlops-v2 layout: unnamed index column, cost, the 20 features."""
    assert run_prep(tmp_path / "first", raw_folder) == 0
    table = pd.read_parquet(tmp_path / "first/out/train/data.parquet")
    table = table[[TARGET, *FEATURES]]
    table.to_csv(tmp_path / "features.csv")  # writes the unnamed index column
    # Another seed: with seed 42 every one of these training rows stays a training row.
    assert run_prep(tmp_path, tmp_path / "features.csv", extra=("--seed", "8")) == 0
    quality = json.loads((tmp_path / "out/quality/quality.json").read_text())
    assert quality["files"][0]["kind"] == "features"
    assert quality["rows_read"] == len(table)


def test_empty_file(tmp_path: Path, capsys) -> None:
    (tmp_path / "green_empty.csv").write_text("")
    code = run_prep(tmp_path, tmp_path / "green_empty.csv")
    assert_refused(code, capsys, tmp_path, "green_empty.csv", "empty")


def test_header_only(tmp_path: Path, capsys) -> None:
    path = write_csv(tmp_path / "yellow_head.csv", YELLOW_HEADER, [])
    assert_refused(run_prep(tmp_path, path), capsys, tmp_path, "yellow_head.csv", "no rows")


def test_unknown_header(tmp_path: Path, capsys) -> None:
    path = write_csv(tmp_path / "other.csv", "id,when,amount", ["1,2016-01-01,3.0"])
    assert_refused(
        run_prep(tmp_path, path), capsys, tmp_path, "other.csv", "id,when,amount", "neither green"
    )


def test_missing_required_column(tmp_path: Path, capsys) -> None:
    header = GREEN_HEADER.replace("tripDistance", "tripDist")
    path = write_csv(tmp_path / "green_x.csv", header, [GREEN_ROW])
    assert_refused(run_prep(tmp_path, path), capsys, tmp_path, "green_x.csv", "'tripDistance'")


def test_text_in_numeric_column(tmp_path: Path, capsys) -> None:
    bad = GREEN_ROW.replace(",2.04,", ",two miles,")
    path = write_csv(tmp_path / "green_t.csv", GREEN_HEADER, [GREEN_ROW, bad])
    assert_refused(
        run_prep(tmp_path, path),
        capsys,
        tmp_path,
        "green_t.csv",
        "'tripDistance'",
        "line 3",
        "'two miles'",
    )


def test_unparseable_datetime(tmp_path: Path, capsys) -> None:
    bad = YELLOW_ROW.replace("2016-03-07 22:04:12", "07/03/2016 25:61")
    path = write_csv(tmp_path / "yellow_d.csv", YELLOW_HEADER, [bad])
    assert_refused(
        run_prep(tmp_path, path),
        capsys,
        tmp_path,
        "yellow_d.csv",
        "'tpepPickupDateTime'",
        "'07/03/2016 25:61'",
    )


def test_every_row_invalid(tmp_path: Path, capsys) -> None:
    zero = GREEN_ROW.replace(",2.04,", ",0.0,")
    path = write_csv(tmp_path / "green_z.csv", GREEN_HEADER, [zero] * 5)
    assert_refused(
        run_prep(tmp_path, path),
        capsys,
        tmp_path,
        "green_z.csv",
        "all 5 rows",
        "non_positive_distance 5",
    )


def test_too_many_rows_dropped(tmp_path: Path, capsys) -> None:
    zero = GREEN_ROW.replace(",2.04,", ",0.0,")
    path = write_csv(tmp_path / "green_h.csv", GREEN_HEADER, [*green_rows(7), *[zero] * 3])
    code = run_prep(tmp_path, path)
    assert_refused(
        code,
        capsys,
        tmp_path,
        "dropped 3 of 10",
        "max_drop_fraction 20%",
        "non_positive_distance 3",
    )
    assert run_prep(tmp_path, path, extra=("--max_drop_fraction", "0.5")) == 0


def test_folder_with_a_bad_file_names_it(tmp_path: Path, capsys) -> None:
    folder = tmp_path / "mixed"
    write_csv(folder / "green_001.csv", GREEN_HEADER, [GREEN_ROW] * 5)
    write_csv(folder / "yellow_001.csv", YELLOW_HEADER, [YELLOW_ROW.replace(",N,", ",maybe,")])
    code = run_prep(tmp_path, folder)
    assert_refused(code, capsys, tmp_path, "yellow_001.csv", "'storeAndFwdFlag'", "'maybe'")


def test_path_does_not_exist(tmp_path: Path, capsys) -> None:
    code = run_prep(tmp_path, tmp_path / "nowhere")
    assert_refused(code, capsys, tmp_path, "nowhere", "no such file or folder")


def test_malformed_csv(tmp_path: Path, capsys) -> None:
    broken = GREEN_ROW.replace(",N,", ',"N,')  # a quote that never closes
    path = write_csv(tmp_path / "green_r.csv", GREEN_HEADER, [GREEN_ROW, broken])
    assert_refused(run_prep(tmp_path, path), capsys, tmp_path, "green_r.csv", "not a readable CSV")


def test_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "green_bom.csv"
    path.write_text("\ufeff" + GREEN_HEADER + "\n" + "\n".join(green_rows(6)) + "\n")
    assert run_prep(tmp_path, path) == 0
