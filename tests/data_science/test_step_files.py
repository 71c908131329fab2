"""The step output files: each round-trips through its dataclass, and a bad one is one line.

decision.json has its own tests beside the gate (test_gate.py); these cover model_info.json,
quality.json and stage_report.json, and the byte-level promises every writer keeps.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from taxi_fare.step_files import (
    MODEL_INFO_FILE,
    QUALITY_FILE,
    STAGE_REPORT_FILE,
    FileRows,
    ModelInfo,
    QualityReport,
    StageReport,
    StepFileError,
    read_model_info,
    read_quality,
    read_stage_report,
    write_model_info,
    write_quality,
    write_stage_report,
)

INFO = ModelInfo(True, "taxi-fare", 3, "run-1", "rmse 3.1 beats 3.4")
FILES = (FileRows("/raw/green.csv", "green", 10), FileRows("/raw/yellow.csv", "yellow", 5))
QUALITY = QualityReport(
    files=FILES,
    rows_read=15,
    dropped={"missing_value": 2, "outside_nyc_bounding_box": 1},
    rows_kept=12,
    train_rows=8,
    test_rows=4,
    data_fingerprint="ab" * 32,
    split={"seed": 42, "test_size": 0.3, "method": "row-hash-v1", "key_columns": ["cost"]},
)
STAGE = StageReport(
    files=FILES,
    rows_read=15,
    dropped={"missing_value": 2},
    excluded_training_rows=6,
    exclude_data=("/runs/r1/prep/train_data",),
    rows_eligible=7,
    rows_selected=2,
    ordered_by="pickup timestamp",
    pickup_from="2023-01-01T00:00:00",
    pickup_to="2023-01-02T00:00:00",
    data_fingerprint="cd" * 32,
)

#: The JSON the steps wrote before these classes existed, key for key and in that order.
INFO_JSON = {"registered": True, "name": "taxi-fare", "version": 3, "run_id": "run-1",
             "reason": "rmse 3.1 beats 3.4"}  # fmt: skip
FILES_JSON = [{"path": "/raw/green.csv", "kind": "green", "rows": 10},
              {"path": "/raw/yellow.csv", "kind": "yellow", "rows": 5}]  # fmt: skip
QUALITY_JSON = {"files": FILES_JSON, "rows_read": 15,
                "dropped": {"missing_value": 2, "outside_nyc_bounding_box": 1}, "rows_kept": 12,
                "train_rows": 8, "test_rows": 4, "data_fingerprint": "ab" * 32,
                "split": QUALITY.split}  # fmt: skip
STAGE_JSON = {"files": FILES_JSON, "rows_read": 15, "dropped": {"missing_value": 2},
              "excluded_training_rows": 6, "exclude_data": ["/runs/r1/prep/train_data"],
              "rows_eligible": 7, "rows_selected": 2, "ordered_by": "pickup timestamp",
              "pickup_from": "2023-01-01T00:00:00", "pickup_to": "2023-01-02T00:00:00",
              "data_fingerprint": "cd" * 32}  # fmt: skip

CASES = [
    (INFO, INFO_JSON, MODEL_INFO_FILE, write_model_info, read_model_info),
    (QUALITY, QUALITY_JSON, QUALITY_FILE, write_quality, read_quality),
    (STAGE, STAGE_JSON, STAGE_REPORT_FILE, write_stage_report, read_stage_report),
]


@pytest.mark.parametrize(("value", "expected", "name", "write", "read"), CASES)
def test_each_file_round_trips_and_keeps_its_json(
    tmp_path: Path, value: Any, expected: dict[str, Any], name: str, write: Any, read: Any
) -> None:
    path = write(value, tmp_path / "out")
    assert path == tmp_path / "out" / name
    text = path.read_text(encoding="utf-8")
    assert text == json.dumps(expected, indent=2) + "\n"  # same bytes as the steps wrote
    assert list(json.loads(text)) == list(expected)
    assert read(tmp_path / "out") == value  # the folder ...
    assert read(path) == value  # ... or the file itself
    assert [p.name for p in path.parent.iterdir()] == [name]  # no partial file left


@pytest.mark.parametrize(("value", "expected", "name", "write", "read"), CASES)
def test_missing_and_unreadable_files_are_one_line(
    tmp_path: Path, value: Any, expected: dict[str, Any], name: str, write: Any, read: Any
) -> None:
    file = tmp_path / name
    with pytest.raises(StepFileError, match=rf"^{re.escape(str(file))}: .* not found"):
        read(tmp_path)
    for text, message in (("{not json", "is not readable JSON"), ("[1]", "got list")):
        file.write_text(text)
        with pytest.raises(StepFileError, match=message) as info:
            read(file)
        assert str(info.value).startswith(f"{file}: ") and "\n" not in str(info.value)
    file.write_bytes(b"\xff\xfe{}")
    with pytest.raises(StepFileError, match="not readable JSON"):
        read(file)


@pytest.mark.parametrize(
    ("read", "good", "key", "value", "message"),
    [
        (read_model_info, INFO_JSON, "registered", "true", "key 'registered' must be true or"),
        (read_model_info, INFO_JSON, "version", None, "'version' must be a positive integer when "),
        (read_model_info, INFO_JSON, "version", 0, "key 'version' must be an integer >= 1 or null"),
        (read_model_info, INFO_JSON, "name", "", "key 'name' must be a non-empty string, got ''"),
        (read_model_info, INFO_JSON, "run_id", 5, "key 'run_id' must be a string or null, got 5"),
        (read_quality, QUALITY_JSON, "rows_read", -1, "key 'rows_read' must be an integer >= 0"),
        (read_quality, QUALITY_JSON, "train_rows", 2.5, "'train_rows' must be an integer >= 0"),
        (read_quality, QUALITY_JSON, "dropped", {"x": "1"}, "key 'dropped.x' must be an integer"),
        (read_quality, QUALITY_JSON, "data_fingerprint", "", "'data_fingerprint' must be a non"),
        (read_quality, QUALITY_JSON, "split", "42", "key 'split' must be a JSON object, got '42'"),
        (read_quality, QUALITY_JSON, "files", [{"path": "a", "kind": "green"}],
         "key 'files[0].rows' is missing"),
        (read_quality, QUALITY_JSON, "files", ["a.csv"], "key 'files' must be a list of {path"),
        (read_stage_report, STAGE_JSON, "exclude_data", [3], "'exclude_data' must be a list of"),
        (read_stage_report, STAGE_JSON, "rows_selected", None, "key 'rows_selected' must be"),
        (read_stage_report, STAGE_JSON, "ordered_by", "", "'ordered_by' must be a non-empty"),
    ],
)  # fmt: skip
def test_a_wrong_field_names_the_file_and_key(
    tmp_path: Path, read: Any, good: dict[str, Any], key: str, value: object, message: str
) -> None:
    file = tmp_path / "step.json"
    file.write_text(json.dumps({**good, key: value}))
    with pytest.raises(StepFileError, match=re.escape(message)) as info:
        read(file)
    assert str(info.value).startswith(f"{file}: key ") and "\n" not in str(info.value)


def test_a_missing_key_says_what_was_expected(tmp_path: Path) -> None:
    file = tmp_path / "quality.json"
    file.write_text(json.dumps({k: v for k, v in QUALITY_JSON.items() if k != "rows_kept"}))
    with pytest.raises(StepFileError, match=r"key 'rows_kept' is missing \(an integer >= 0"):
        read_quality(tmp_path)


def test_an_unregistered_model_may_have_no_version(tmp_path: Path) -> None:
    info = ModelInfo(False, "taxi-fare", None, "run-2", "not better")
    assert read_model_info(write_model_info(info, tmp_path)) == info
