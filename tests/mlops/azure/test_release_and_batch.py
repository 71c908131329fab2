"""Release file -> pipeline variables, and the batch output row-count assertion."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops.azure.batch_output import check_row_count
from mlops.azure.release_vars import release_variables
from mlops.cli import main
from mlops.errors import MlopsError

RELEASE = """\
model:
  name: taxi-fare
  version: {version}
  registry: mlr-taxifare-0001
environment:
  name: taxi-fare-score-env
  version: 2
code:
  commit: 0123456789abcdef0123456789abcdef01234567
rollout:
  steps: [10, 50, 100]
  latency_ms: 400
"""


def _releases(tmp_path: Path, version: str) -> Path:
    folder = tmp_path / "releases"
    folder.mkdir()
    (folder / "stage.yml").write_text(RELEASE.format(version=version), encoding="utf-8")
    return folder


def test_release_file_becomes_variables(tmp_path: Path) -> None:
    assert release_variables("stage", _releases(tmp_path, "3")) == {
        "MODEL_NAME": "taxi-fare",
        "MODEL_VERSION": "3",
        "MODEL_REGISTRY": "mlr-taxifare-0001",
        "MODEL_URI": "azureml://registries/mlr-taxifare-0001/models/taxi-fare/versions/3",
        "ENVIRONMENT_URI": (
            "azureml://registries/mlr-taxifare-0001/environments/taxi-fare-score-env/versions/2"
        ),
        "ENVIRONMENT_NAME": "taxi-fare-score-env",
        "ENVIRONMENT_VERSION": "2",
        "CODE_COMMIT": "0123456789abcdef0123456789abcdef01234567",
        "ROLLOUT_STEPS": "10 50 100",
        "LATENCY_MS": "400",
    }


def test_release_vars_cli_prints_vso_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _releases(tmp_path, "5")
    main(["azure", "release-vars", "--env", "stage", "--releases-dir", str(folder)])
    lines = capsys.readouterr().out.splitlines()
    assert "##vso[task.setvariable variable=MODEL_VERSION]5" in lines
    assert len(lines) == 10


def test_a_release_without_version_cannot_be_deployed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _releases(tmp_path, "null")
    with pytest.raises(SystemExit) as exit_info:
        main(["azure", "release-vars", "--env", "stage", "--releases-dir", str(folder)])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert "stage.yml: model.version is null" in err and err.startswith("error: ")


def test_unknown_environment_is_refused(tmp_path: Path) -> None:
    with pytest.raises(MlopsError, match="expected stage or prod"):
        release_variables("dev", _releases(tmp_path, "1"))


def _batch(tmp_path: Path, predictions: str) -> tuple[Path, Path]:
    inputs = tmp_path / "in"
    inputs.mkdir()
    (inputs / "green_1.csv").write_text("a,b\n1,2\n3,4\n", encoding="utf-8")
    (inputs / "yellow_1.csv").write_text("a,b\n5,6\n", encoding="utf-8")
    out = tmp_path / "predictions.csv"
    out.write_text(predictions, encoding="utf-8")
    return inputs, out


def test_one_prediction_per_input_row_passes(tmp_path: Path) -> None:
    inputs, out = _batch(tmp_path, "green_1.csv,0,12.5\ngreen_1.csv,1,8.0\nyellow_1.csv,0,20.1\n")
    assert check_row_count(inputs, out) == 3


def test_a_header_line_is_not_counted(tmp_path: Path) -> None:
    inputs, out = _batch(tmp_path, "file,row,prediction\ng,0,1\ng,1,2\ny,0,3\n")
    assert check_row_count(inputs, out) == 3


def test_missing_rows_fail_naming_both_counts(tmp_path: Path) -> None:
    inputs, out = _batch(tmp_path, "green_1.csv,0,12.5\n")
    with pytest.raises(MlopsError, match="1 prediction rows for 3 input rows"):
        check_row_count(inputs, out)


def test_missing_output_or_empty_input_is_named(tmp_path: Path) -> None:
    inputs, _ = _batch(tmp_path, "")
    with pytest.raises(MlopsError, match="batch output file not found"):
        check_row_count(inputs, tmp_path / "absent.csv")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(MlopsError, match=r"no .csv files"):
        check_row_count(empty, tmp_path / "predictions.csv")
