"""batch_score.py through the local batch deployment: formats, one row per input row, failures."""

from __future__ import annotations

import csv
import shutil
from collections import defaultdict
from pathlib import Path

import pandas as pd
import pytest

from mlops.cli import main
from mlops.endpoints import batch
from mlops.endpoints.batch import BatchSettings, run_batch, spec_settings
from tests.endpoint_models import FEATURES, ROOT, feature_frame

SAMPLE = ROOT / "data" / "sample"


def read_predictions(path: Path) -> dict[str, list[tuple[int, float]]]:
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        assert next(reader) == ["file", "row", "prediction"]
        by_file: dict[str, list[tuple[int, float]]] = defaultdict(list)
        for name, row, value in reader:
            by_file[name].append((int(row), float(value)))
    return dict(by_file)


def expected(frame: pd.DataFrame) -> list[float]:
    return list(3.0 + 2.5 * frame["distance"] + 0.1 * frame["passengers"])


@pytest.fixture(scope="module")
def features(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    """A folder with a feature-table CSV (index column + cost) and a Parquet file."""
    folder = tmp_path_factory.mktemp("batch-features")
    table = feature_frame(30, seed=5)
    with_cost = table.assign(cost=1.0)[["cost", *FEATURES]]
    with_cost.to_csv(folder / "a_table.csv")  # unnamed index column, as the feature table has
    table[list(reversed(FEATURES))].to_parquet(folder / "b_trips.parquet")  # other column order
    return folder, table


def test_spec_settings_come_from_the_azure_batch_deployment() -> None:
    assert spec_settings() == BatchSettings(mini_batch_size=1, error_threshold=2, max_retries=2)


def test_committed_sample_gets_one_prediction_per_row(
    models: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "predictions.csv"
    report = run_batch(SAMPLE, out, models["good"], spec_settings())
    files = sorted(SAMPLE.glob("*.csv"))
    assert files, "data/sample holds the committed raw TLC sample"
    by_file = read_predictions(out)
    assert sorted(by_file) == [f.name for f in files]
    for path in files:
        data_rows = len(path.read_text(encoding="utf-8").splitlines()) - 1
        assert [row for row, _ in by_file[path.name]] == list(range(data_rows)), path.name
    assert report.rows == sum(len(v) for v in by_file.values())
    assert not report.failed and not report.aborted
    # Raw rows become features through taxi_fare.ingest: the first green row, by hand.
    first = pd.read_csv(files[0], nrows=1)
    cost = 3.0 + 2.5 * first["tripDistance"][0] + 0.1 * first["passengerCount"][0]
    assert by_file[files[0].name][0][1] == pytest.approx(cost, abs=0.05)


def test_feature_files_are_matched_by_column_name(
    models: dict[str, Path], features: tuple[Path, pd.DataFrame], tmp_path: Path
) -> None:
    folder, table = features
    out = tmp_path / "out" / "predictions.csv"
    run_batch(folder, out, models["good"], BatchSettings(mini_batch_size=10))
    by_file = read_predictions(out)
    for name in ("a_table.csv", "b_trips.parquet"):
        assert [v for _, v in by_file[name]] == pytest.approx(expected(table), abs=1e-3)


@pytest.fixture
def corrupt_folder(features: tuple[Path, pd.DataFrame], tmp_path: Path) -> Path:
    """Two good files, a CSV with text in ``distance`` and a Parquet file that is not one."""
    folder = tmp_path / "in"
    shutil.copytree(features[0], folder)
    bad = feature_frame(5, seed=6).astype(object)
    bad.loc[3, "distance"] = "far"
    bad.to_csv(folder / "c_text.csv", index=False)
    (folder / "d_broken.parquet").write_bytes(b"PAR1 not really parquet")
    return folder


def test_corrupt_files_are_named_and_good_files_still_scored(
    models: dict[str, Path], corrupt_folder: Path, tmp_path: Path
) -> None:
    out = tmp_path / "predictions.csv"
    report = run_batch(corrupt_folder, out, models["good"], BatchSettings(1, 2, 0))
    assert not report.aborted
    assert sorted(report.failed) == ["c_text.csv", "d_broken.parquet"]
    assert "column 'distance' row 3: 'far' is not a finite number" in report.failed["c_text.csv"]
    assert "cannot be read" in report.failed["d_broken.parquet"]
    assert sorted(read_predictions(out)) == ["a_table.csv", "b_trips.parquet"]


def test_failures_past_the_threshold_abort_without_output(
    models: dict[str, Path], corrupt_folder: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out" / "predictions.csv"
    report = run_batch(corrupt_folder, out, models["good"], BatchSettings(1, 1, 0))
    assert report.aborted
    assert sorted(report.failed) == ["c_text.csv", "d_broken.parquet"]
    assert not out.parent.exists()  # neither the output nor a temp file was started


def test_a_bad_file_fails_its_whole_mini_batch_as_on_azure(
    models: dict[str, Path], corrupt_folder: Path, tmp_path: Path
) -> None:
    report = run_batch(corrupt_folder, tmp_path / "p.csv", models["good"], BatchSettings(3, -1, 0))
    # Mini-batches: [a, b, c_text] and [d_broken]; the first fails as a whole.
    assert sorted(report.failed) == [
        "a_table.csv",
        "b_trips.parquet",
        "c_text.csv",
        "d_broken.parquet",
    ]
    assert report.failed["a_table.csv"].startswith("its mini-batch failed: 1 of 3 files failed")
    assert "c_text.csv: column 'distance'" in report.failed["a_table.csv"]  # names the culprit
    assert report.failed["c_text.csv"] == "column 'distance' row 3: 'far' is not a finite number"
    assert not report.aborted  # -1: never abort


def test_raw_file_with_a_bad_value_names_file_column_and_line(
    models: dict[str, Path], tmp_path: Path
) -> None:
    folder = tmp_path / "raw"
    folder.mkdir()
    lines = (SAMPLE / "green_001.csv").read_text(encoding="utf-8").splitlines()[:4]
    header = lines[0].split(",")
    cells = lines[2].split(",")
    cells[header.index("tripDistance")] = "n/a"
    lines[2] = ",".join(cells)
    (folder / "green_bad.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = run_batch(folder, tmp_path / "p.csv", models["good"], BatchSettings(1, -1, 0))
    assert "green_bad.csv" in report.failed
    assert "column 'tripDistance' line 3: 'n/a' is not a number" in report.failed["green_bad.csv"]


def test_empty_input_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(batch.MlopsError, match="has no files"):
        batch.input_files(tmp_path)


def test_cli_scores_and_reports(
    models: dict[str, Path], corrupt_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "cli" / "predictions.csv"
    argv = ["batch-score", "--input", str(corrupt_folder), "--output", str(out)]
    argv += ["--model-dir", str(models["good"]), "--max-retries", "0"]
    main(argv)  # returns normally on success
    captured = capsys.readouterr()
    assert "scored 60 rows from 2 of 4 files" in captured.out
    assert "failed: c_text.csv" in captured.err
    assert sum(len(v) for v in read_predictions(out).values()) == 60

    out.unlink()
    with pytest.raises(SystemExit) as failed:
        main([*argv, "--error-threshold", "1"])
    assert failed.value.code == 1
    assert (
        "error: 2 of 4 files failed, more than the error threshold of 1" in capsys.readouterr().err
    )
    assert not out.exists()
