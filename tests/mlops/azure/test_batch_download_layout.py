"""Issue 12, defect 3: the batch test reads predictions where ``az ml job download`` puts them.

azure-ai-ml 1.35.2 azure/ai/ml/operations/_job_operations.py:JobOperations.download writes a
named output to ``<download_path>/named-outputs/<output_name>/``; only a job tagged
``azureml.batchrun=true`` that is not a pipeline job is written to ``<download_path>``
itself (``destination = download_path``). The file name is the deployment's
``settings.output_file_name`` (predictions.csv).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops.azure.batch_output import predictions_file
from mlops.cli import main
from mlops.errors import MlopsError
from mlops.settings import REPO_ROOT

TEMPLATE = REPO_ROOT / "mlops" / "devops-pipelines" / "templates" / "test-batch-deployment.yml"


def _inputs(tmp_path: Path) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "green_1.csv").write_text("a,b\n1,2\n3,4\n", encoding="utf-8")
    return folder


def _download(tmp_path: Path, relative: str, rows: str) -> Path:
    dest = tmp_path / "batch-output"
    target = dest / relative
    target.parent.mkdir(parents=True)
    target.write_text(rows, encoding="utf-8")
    return dest


def test_named_output_layout_is_found(tmp_path: Path) -> None:
    dest = _download(tmp_path, "named-outputs/score/predictions.csv", "g,0,1\ng,1,2\n")
    assert predictions_file(dest) == dest / "named-outputs" / "score" / "predictions.csv"


def test_the_batch_run_layout_is_found_too(tmp_path: Path) -> None:
    dest = _download(tmp_path, "predictions.csv", "g,0,1\n")
    assert predictions_file(dest) == dest / "predictions.csv"


def test_other_output_and_file_names_follow_the_arguments(tmp_path: Path) -> None:
    dest = _download(tmp_path, "named-outputs/scores/out.csv", "g,0,1\n")
    assert predictions_file(dest, "scores", "out.csv") == dest / "named-outputs/scores/out.csv"


def test_nothing_downloaded_names_every_place_looked(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(MlopsError) as err:
        predictions_file(tmp_path / "empty")
    assert "named-outputs/score/predictions.csv" in str(err.value)
    assert "empty/predictions.csv" in str(err.value)


def test_two_candidates_are_ambiguous(tmp_path: Path) -> None:
    dest = _download(tmp_path, "predictions.csv", "g,0,1\n")
    (dest / "named-outputs" / "score").mkdir(parents=True)
    (dest / "named-outputs" / "score" / "predictions.csv").write_text("g,0,1\n")
    with pytest.raises(MlopsError, match="both"):
        predictions_file(dest)


def test_batch_rows_cli_reads_the_download_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inputs = _inputs(tmp_path)
    dest = _download(tmp_path, "named-outputs/score/predictions.csv", "g,0,1\ng,1,2\n")
    main(["azure", "batch-rows", "--input", str(inputs), "--download-dir", str(dest)])
    assert "2 predictions for 2 input rows" in capsys.readouterr().out


def test_the_template_hands_the_download_folder_to_batch_rows() -> None:
    text = TEMPLATE.read_text(encoding="utf-8")
    assert '--download-dir "$DEST"' in text
    assert "$DEST/predictions.csv" not in text
