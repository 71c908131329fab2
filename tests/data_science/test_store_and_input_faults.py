"""Faults a user meets first: undecodable inputs, a damaged MLflow store, a fresh store
opened by several processes at once. Each ends in one line naming the file, or succeeds."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import prep
import pytest
import register

from tests.data_science.ds_rows import GREEN_HEADER, GREEN_ROW, green_rows, write_csv

REPO = Path(__file__).resolve().parents[2]
SRC = REPO / "data-science" / "src"
PYTHON = sys.executable


def prep_argv(out: Path, *raw: Path) -> list[str]:
    return [
        "--raw_data",
        *map(str, raw),
        "--train_data",
        str(out / "train"),
        "--test_data",
        str(out / "test"),
        "--quality_report",
        str(out / "quality"),
    ]


def one_error_line(capsys: pytest.CaptureFixture) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    return lines[0]


# --------------------------------------------------------------------------- input files


def test_random_bytes_named_like_a_csv(tmp_path: Path, capsys) -> None:
    path = tmp_path / "yellow_jan.csv"
    path.write_bytes(bytes([0x8F, 0xFF, 0x00, 0x41]) + os.urandom(2000))
    assert prep.main(prep_argv(tmp_path / "out", path)) == 1
    line = one_error_line(capsys)
    assert f"{path}: not UTF-8 text at line 1 column 1" in line
    assert not (tmp_path / "out").exists()


def test_invalid_utf8_on_a_later_line_names_line_and_column(tmp_path: Path, capsys) -> None:
    path = tmp_path / "green_bad.csv"
    bad = GREEN_ROW.replace(",N,", ",N\xff,").encode("latin-1")
    body = "\n".join([GREEN_HEADER, *green_rows(3)]).encode() + b"\n" + bad + b"\n"
    path.write_bytes(body)
    assert prep.main(prep_argv(tmp_path / "out", path)) == 1
    column = bad.index(b"\xff") + 1
    assert f"{path}: not UTF-8 text at line 5 column {column}" in one_error_line(capsys)
    assert not (tmp_path / "out").exists()


def test_binary_file_with_nul_bytes(tmp_path: Path, capsys) -> None:
    path = tmp_path / "green_nul.csv"
    path.write_bytes(b"lpepPickupDatetime\x00\x00,vendorID\n\x00\x01\x02\n")
    assert prep.main(prep_argv(tmp_path / "out", path)) == 1
    line = one_error_line(capsys)
    assert f"{path}: header 'lpepPickupDatetime\\x00\\x00" in line and "neither green" in line


def test_unreadable_file(tmp_path: Path, capsys) -> None:
    folder = write_csv(tmp_path / "green_dir.csv" / "x", GREEN_HEADER, []).parent
    assert prep.main(prep_argv(tmp_path / "out", folder / "x")) == 1
    assert str(folder / "x") in one_error_line(capsys)


# --------------------------------------------------------------------------- a damaged store


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"\x00\x13garbage that is no database" * 40, "not an SQLite database"),
        (b"SQLite format 3\x00" + b"\xab" * 4000, "a damaged SQLite database"),
    ],
)
def test_damaged_store_is_refused_and_left_untouched(
    tmp_path: Path, raw_folder: Path, monkeypatch, capsys, content: bytes, problem: str
) -> None:
    database = tmp_path / "mlflow.db"
    database.write_bytes(content)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{database}")
    assert prep.main(prep_argv(tmp_path / "out", raw_folder)) == 1
    line = one_error_line(capsys)
    assert line.startswith(f"error: {database}: {problem}") and "left untouched" in line
    assert not (tmp_path / "out").exists()
    argv = ["--model_input", str(tmp_path), "--evaluation_output", str(tmp_path)]
    assert register.main([*argv, "--model_info_output", str(tmp_path / "info")]) == 1
    assert str(database) in one_error_line(capsys)
    assert database.read_bytes() == content


def test_mlops_command_refuses_a_damaged_dev_store(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "dev").mkdir(parents=True)
    database = home / "dev" / "mlflow.db"
    database.write_bytes(b"not a database\n" * 100)
    done = subprocess.run(
        [PYTHON, "-m", "mlops", "models"],
        cwd=REPO,
        env={**os.environ, "MLOPS_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert lines == [
        f"error: {database}: not an SQLite database, so not a usable MLflow store; it was "
        "left untouched: restore it from a backup, or move it aside to start an empty store"
    ]
    assert database.read_bytes() == b"not a database\n" * 100


# --------------------------------------------------------------------------- a fresh store

_OPENER = """
import os, sys, time
from pathlib import Path
kind, go = sys.argv[1], Path(sys.argv[2])
if kind == "mlops":
    from mlops.registry import local_registry
else:
    import mlflow
    from taxi_fare.steps import mlflow_run
while not go.exists():
    time.sleep(0.01)
if kind == "mlops":
    print(len(local_registry.dev_versions()))
else:
    with mlflow_run("prep") as run:
        mlflow.log_metric("rows", 1)
    print(run.info.run_id)
"""


def test_fresh_store_opened_by_two_processes_at_once(tmp_path: Path) -> None:
    """An `mlops` command and a hand-run step start on a store nobody created yet."""
    home = tmp_path / "home"
    database = home / "dev" / "mlflow.db"
    go = tmp_path / "go"
    env = {
        **os.environ,
        "MLOPS_HOME": str(home),
        "MLFLOW_TRACKING_URI": f"sqlite:///{database}",
        "PYTHONPATH": os.pathsep.join([str(SRC), str(REPO)]),
    }
    env.pop("MLFLOW_EXPERIMENT_ID", None)
    env.pop("MLFLOW_RUN_ID", None)
    # What a creator SIGKILLed mid-schema leaves: only its scratch file, never mlflow.db.
    database.parent.mkdir(parents=True)
    scratch = database.with_name(".mlflow.db.creating")
    scratch.write_bytes(b"SQLite format 3\x00half a schema")
    procs = [
        subprocess.Popen(
            [PYTHON, "-c", _OPENER, kind, str(go)],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for kind in ("mlops", "step")
    ]
    time.sleep(0.5)  # a head start for the imports: the opens then race
    go.touch()
    results = [proc.communicate(timeout=180) for proc in procs]
    for proc, (_out, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0 and "Traceback" not in err, err
    assert database.stat().st_size > 0 and not scratch.exists()
    from mlflow import MlflowClient

    experiment = MlflowClient(f"sqlite:///{database}").get_experiment_by_name("taxi-fare-steps")
    runs = MlflowClient(f"sqlite:///{database}").search_runs([experiment.experiment_id])
    assert len(runs) == 1
