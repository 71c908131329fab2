"""Each step SIGKILLed while it writes: nothing registered, nothing left that blocks a rerun.

The kill lands inside the step (a wrapper replaces one function with "SIGKILL myself" on
its nth call): prep between its two split files, train2 inside the model save, evaluate
between metrics.json and decision.json, register while it holds the registry lock.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import evaluate
import prep
import pytest
import register
import train2

pytestmark = pytest.mark.e2e

NAME = "taxi-fare"
SRC = Path(__file__).resolve().parents[2] / "data-science" / "src"

_KILLED = """
import importlib, os, signal, sys
step, target, nth, argv = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4].split("|")
module_name, name = target.rsplit(".", 1)
module = importlib.import_module(module_name)
original, calls = getattr(module, name), [0]
def dying(*args, **kwargs):
    calls[0] += 1
    if calls[0] >= nth:
        os.kill(os.getpid(), signal.SIGKILL)
    return original(*args, **kwargs)
setattr(module, name, dying)
sys.exit(importlib.import_module(step).main(argv))
"""


def args(**flags: object) -> list[str]:
    return [item for key, value in flags.items() for item in (f"--{key}", str(value))]


def run(step: str, argv: list[str], env: dict[str, str], kill_at: str, nth: int = 1):
    """The step in a fresh process that dies on the nth call of ``kill_at``."""
    command = [sys.executable, "-c", _KILLED, step, kill_at, str(nth), "|".join(argv)]
    return subprocess.run(command, cwd=SRC, env=env, capture_output=True, text=True, timeout=300)


def versions() -> list[int]:
    from mlflow import MlflowClient

    return sorted(int(v.version) for v in MlflowClient().search_model_versions(f"name='{NAME}'"))


def test_kill_each_step_then_rerun(
    tmp_path: Path, raw_folder: Path, tracking_uri: str, capsys
) -> None:
    env = {**os.environ, "MLFLOW_TRACKING_URI": tracking_uri}
    for key in ("MLFLOW_RUN_ID", "MLFLOW_EXPERIMENT_ID"):
        env.pop(key, None)
    killed = -signal.SIGKILL
    before = versions()

    # prep: killed after the train split, before the test split's file is renamed into place.
    split = args(
        train_data=tmp_path / "train", test_data=tmp_path / "test", quality_report=tmp_path / "q"
    )
    prep_argv = ["--raw_data", str(raw_folder), *split]
    kill_at = "taxi_fare.combine.publish_split"  # the test split's folder, after train's
    assert run("prep", prep_argv, env, kill_at, nth=2).returncode == killed
    assert (tmp_path / "train/data.parquet").is_file()
    assert not (tmp_path / "test/data.parquet").exists()  # never half a file under its name
    assert prep.main(prep_argv) == 0  # reruns in process: only the kills need a process each
    assert (tmp_path / "test/data.parquet").is_file()
    assert not list(tmp_path.rglob(".data.parquet.partial"))
    assert not list(tmp_path.glob(".*.partial-*"))  # the killed run's staging is cleared

    # train2: killed inside the model save; the half folder is refused by name downstream.
    train = args(train_data=tmp_path / "train", n_estimators=4, max_depth=6)
    half = tmp_path / "model-killed"
    train_argv = [*train, "--model_output", str(half)]
    assert run("train2", train_argv, env, "cloudpickle.dump").returncode == killed
    assert evaluate.main(args(model_input=half, test_data=tmp_path / "test",
                              evaluation_output=tmp_path / "e-half")) == 1  # fmt: skip
    assert f"{half}: not an MLflow model" in capsys.readouterr().err
    model = tmp_path / "model"
    assert train2.main([*train, "--model_output", str(model)]) == 0

    # evaluate: killed between metrics.json and decision.json; register then refuses.
    evaluation = tmp_path / "eval"
    eval_argv = args(model_input=model, test_data=tmp_path / "test", evaluation_output=evaluation)
    assert run("evaluate", eval_argv, env, "evaluate.write_decision").returncode == killed
    assert (evaluation / "metrics.json").is_file() and not (evaluation / "decision.json").exists()
    info = tmp_path / "info"
    register_argv = args(model_input=model, evaluation_output=evaluation, model_info_output=info,
                         quality_report=tmp_path / "q")  # fmt: skip
    assert register.main(register_argv) == 1
    assert "decision file not found" in capsys.readouterr().err
    assert versions() == before and not info.exists()
    assert evaluate.main(eval_argv) == 0

    # register: killed while it holds the registry lock, artifacts logged, nothing registered.
    assert run("register", register_argv, env, "register.register").returncode == killed
    assert versions() == before and not info.exists()
    assert register.main(register_argv) == 0  # the dead process's lock does not block it
    model_info = json.loads((info / "model_info.json").read_text())
    assert model_info["registered"] is True and versions() == [*before, model_info["version"]]


@pytest.mark.parametrize("purpose", ["create", "register"])
def test_lock_of_a_killed_process_is_free(tmp_path: Path, purpose: str) -> None:
    """flock dies with its holder: a lock file left by a SIGKILLed process holds nothing."""
    from taxi_fare.store import file_lock, lock_path

    database = tmp_path / "mlflow.db"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from taxi_fare.store import file_lock;"
            "lock = file_lock(Path(sys.argv[1]), 'test'); lock.__enter__();"
            "print('held', flush=True); time.sleep(600)",
            str(lock_path(database, purpose)),
        ],
        cwd=SRC,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "held"
    from taxi_fare.store import StoreError

    busy = pytest.raises(StoreError, match="still held by another process")
    with busy, file_lock(lock_path(database, purpose), "test", timeout=0.2):
        pass
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=30)
    with file_lock(lock_path(database, purpose), "test", timeout=5):
        assert lock_path(database, purpose).exists()
