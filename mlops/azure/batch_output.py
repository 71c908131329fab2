"""Check a batch endpoint job's output: one prediction per input row, nothing more or less."""

from __future__ import annotations

import csv
from pathlib import Path

from mlops.errors import MlopsError


def input_rows(folder: Path) -> int:
    """Data rows (header excluded) over every ``*.csv`` file the batch job was given."""
    files = sorted(folder.glob("*.csv"))
    if not files:
        raise MlopsError(f"{folder}: no .csv files to count input rows from")
    total = 0
    for path in files:
        with path.open(encoding="utf-8", newline="") as handle:
            rows = sum(1 for row in csv.reader(handle) if row)
        if rows == 0:
            raise MlopsError(f"{path}: empty file, expected a header row")
        total += rows - 1
    return total


def output_rows(predictions: Path) -> int:
    """Non-empty lines of an ``append_row`` output file (a header line is not a prediction)."""
    try:
        lines = [line for line in predictions.read_text(encoding="utf-8").splitlines() if line]
    except FileNotFoundError:
        raise MlopsError(f"{predictions}: batch output file not found") from None
    if lines and lines[0].replace(" ", "").lower().startswith("file,row,prediction"):
        lines = lines[1:]
    return len(lines)


def predictions_file(
    download_dir: Path, output_name: str = "score", file_name: str = "predictions.csv"
) -> Path:
    """The predictions file inside an ``az ml job download --output-name`` folder.

    azure-ai-ml 1.35.2 azure/ai/ml/operations/_job_operations.py:JobOperations.download puts a
    named output in ``<download_path>/named-outputs/<output_name>/``, except for a job tagged
    ``azureml.batchrun=true`` that is not a pipeline job, whose scoring output goes to
    ``<download_path>`` itself. Exactly one of the two must hold the file.
    """
    candidates = [
        download_dir / "named-outputs" / output_name / file_name,
        download_dir / file_name,
    ]
    found = [path for path in candidates if path.is_file()]
    if not found:
        looked = ", ".join(str(path) for path in candidates)
        raise MlopsError(f"batch output {file_name} not found; looked in {looked}")
    if len(found) > 1:
        raise MlopsError(
            f"batch output found in both {found[0]} and {found[1]}; download into an empty folder"
        )
    return found[0]


def check_row_count(input_folder: Path, predictions: Path) -> int:
    """Return the row count when input and output agree; otherwise raise naming both files."""
    expected = input_rows(input_folder)
    actual = output_rows(predictions)
    if actual != expected:
        raise MlopsError(
            f"{predictions}: {actual} prediction rows for {expected} input rows in {input_folder}"
        )
    return actual
