"""run_batch scores with the entry script it is given (an emulated batch deployment's pinned
copy of its code), not this checkout's; the default stays data-science/src/batch_score.py."""

from __future__ import annotations

import inspect
from pathlib import Path

from mlops.endpoints.batch import BATCH_SCRIPT, BatchSettings, run_batch

PINNED = """
import os
from pathlib import Path

def init():
    global MODEL
    MODEL = Path(os.environ["AZUREML_MODEL_DIR"]).name

def run(files):
    return [f"{Path(f).name},0,{MODEL}-pinned" for f in files]
"""


def test_the_given_script_scores(tmp_path: Path) -> None:
    script = tmp_path / "code" / "batch_score.py"
    script.parent.mkdir()
    script.write_text(PINNED)
    inputs = tmp_path / "in"
    inputs.mkdir()
    for name in ("a.csv", "b.csv"):
        (inputs / name).write_text("x\n")
    model = tmp_path / "model-v2"
    model.mkdir()
    out = tmp_path / "out" / "predictions.csv"
    report = run_batch(inputs, out, model, BatchSettings(1, -1, 0), script_path=script)
    assert (report.rows, report.scored_files, report.aborted) == (2, 2, False)
    assert out.read_text().splitlines() == [
        "file,row,prediction", "a.csv,0,model-v2-pinned", "b.csv,0,model-v2-pinned"
    ]  # fmt: skip


def test_the_default_script_is_this_checkouts() -> None:
    default = inspect.signature(run_batch).parameters["script_path"].default
    assert default == BATCH_SCRIPT and BATCH_SCRIPT.name == "batch_score.py"
