"""Bad targets are refused with one line naming the file and the column; nothing is written."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from mlops.cli import main
from mlops.errors import MlopsError
from mlops.monitoring.data import read_table
from mlops.monitoring.spec import load_monitor_spec, spec_path

FEATURES = load_monitor_spec(spec_path("dev")).features


@pytest.fixture
def good(trips) -> pd.DataFrame:
    return trips(2_000, 21).features.head(50).copy()


def _refused(path: Path, *needles: str) -> str:
    with pytest.raises(MlopsError) as info:
        read_table(path, FEATURES)
    message = str(info.value)
    assert "\n" not in message
    for needle in (str(path), *needles):
        assert needle in message
    return message


def test_missing_column(tmp_path, good):
    path = tmp_path / "t.parquet"
    good.drop(columns=["vendor"]).to_parquet(path)
    _refused(path, "missing column 'vendor'")


def test_extra_column(tmp_path, good):
    path = tmp_path / "t.csv"
    good.assign(tip=1.0).to_csv(path, index=False)
    _refused(path, "unexpected column 'tip'")


def test_text_in_a_numeric_column(tmp_path, good):
    path = tmp_path / "t.csv"
    frame = good.astype(object)
    frame.loc[frame.index[3], "distance"] = "two miles"
    frame.to_csv(path, index=False)
    _refused(path, "column 'distance' row 3", "'two miles' is not a number")


def test_no_rows(tmp_path, good):
    path = tmp_path / "t.parquet"
    good.head(0).to_parquet(path)
    _refused(path, "no rows")


def test_folder_without_data(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    _refused(tmp_path, "no parquet, CSV or JSONL files")


def test_accepted_extras_and_csv_index(tmp_path, good):
    (tmp_path / "a.csv").write_text(good.assign(cost=5.0).to_csv())  # unnamed index column
    good.assign(prediction=7.0).to_parquet(tmp_path / "b.parquet")
    (tmp_path / ".c.parquet.partial").write_bytes(b"half a file")  # skipped: a dot file
    table = read_table(tmp_path, FEATURES)
    assert table.rows == 100
    assert table.labels is None and table.predictions is None  # not on every row
    assert list(table.features.columns) == list(FEATURES)


def test_cli_refuses_with_exit_1_and_writes_no_report(tmp_path, good, baseline, capsys):
    bad = tmp_path / "bad.csv"
    good.drop(columns=["pickup_hour"]).to_csv(bad, index=False)
    base = tmp_path / "base.parquet"
    baseline.features.to_parquet(base)
    report = tmp_path / "report"
    with pytest.raises(SystemExit) as info:
        main(["monitor", "--target", str(bad), "--baseline", str(base), "--json",
              "--report", str(report)])  # fmt: skip
    assert info.value.code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: {bad}: missing column 'pickup_hour' (of the 20 features)"]
    assert not report.exists()


def test_retrain_refuses_unlabelled_target(tmp_path, good, baseline, capsys):
    target = tmp_path / "collected.parquet"
    good.assign(prediction=9.0).to_parquet(target)
    target_frame = pd.read_parquet(target)
    target_frame["distance"] *= 3  # breach, so --retrain is reached
    target_frame.to_parquet(target)
    base = tmp_path / "base.parquet"
    baseline.features.assign(cost=baseline.labels).to_parquet(base)
    with pytest.raises(SystemExit) as info:
        main(["monitor", "--target", str(target), "--baseline", str(base), "--retrain"])
    assert info.value.code == 1
    err = capsys.readouterr().err
    assert "--retrain" in err and str(target) in err and "'cost'" in err
    from mlops import settings

    assert not settings.runs_dir().exists()  # no training run started
