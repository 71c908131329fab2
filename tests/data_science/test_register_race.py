"""Two trainings at once: registration is a compare-and-set, so no update is lost.

Each registered version must have been judged against the version registered just
before it; a training whose champion moved while it ran registers nothing and says so.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import evaluate
import prep
import pytest
import register
import train2

pytestmark = pytest.mark.e2e

NAME = "taxi-fare"
SRC = Path(__file__).resolve().parents[2] / "data-science" / "src"


def args(**flags: object) -> list[str]:
    return [item for key, value in flags.items() for item in (f"--{key}", str(value))]


def versions() -> list:
    from mlflow import MlflowClient

    found = MlflowClient().search_model_versions(f"name='{NAME}'")
    return sorted(found, key=lambda v: int(v.version))


@pytest.fixture(scope="module")
def split(tmp_path_factory: pytest.TempPathFactory, raw_folder: Path, tracking_uri: str) -> Path:
    work = tmp_path_factory.mktemp("race")
    argv = args(train_data=work / "train", test_data=work / "test", quality_report=work / "q")
    assert prep.main(["--raw_data", str(raw_folder), *argv]) == 0
    return work


def fit(split: Path, name: str, **params: object) -> Path:
    out = split / name
    assert train2.main(args(train_data=split / "train", model_output=out, **params)) == 0
    return out


def eval_argv(model: Path, split: Path, out: Path) -> list[str]:
    return args(model_input=model, test_data=split / "test", evaluation_output=out)


def register_argv(model: Path, split: Path, evaluation: Path, info: Path) -> list[str]:
    return args(
        model_input=model,
        evaluation_output=evaluation,
        model_info_output=info,
        quality_report=split / "q",
    )


@pytest.fixture(scope="module")
def bootstrap(split: Path) -> None:
    weak = fit(split, "weak", n_estimators=2, max_depth=3)
    assert evaluate.main(eval_argv(weak, split, split / "eval-weak")) == 0
    assert register.main(register_argv(weak, split, split / "eval-weak", split / "i-weak")) == 0
    assert [int(v.version) for v in versions()] == [1]


def assert_chain() -> None:
    """Every version after the first was judged against the one registered just before it."""
    for version in versions()[1:]:
        assert version.tags["gate_champion_version"] == str(int(version.version) - 1), version


def test_champion_moved_between_gate_and_register(bootstrap: None, split: Path, capsys) -> None:
    first = fit(split, "m1", n_estimators=6, max_depth=10, seed=1)
    second = fit(split, "m2", n_estimators=6, max_depth=10, seed=2)
    assert evaluate.main(eval_argv(first, split, split / "eval-m1")) == 0
    assert evaluate.main(eval_argv(second, split, split / "eval-m2")) == 0
    for name in ("eval-m1", "eval-m2"):
        decision = json.loads((split / name / "decision.json").read_text())
        assert decision["promote"] is True and decision["champion_version"] == 1
    assert register.main(register_argv(first, split, split / "eval-m1", split / "i-m1")) == 0
    assert [int(v.version) for v in versions()] == [1, 2]
    capsys.readouterr()
    assert register.main(register_argv(second, split, split / "eval-m2", split / "i-m2")) == 1
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line == (
        "error: the champion of taxi-fare changed since the gate ran: it judged against "
        "version 1, but version 2 is the champion now (another training registered it); "
        "nothing registered: re-run training to be judged against the new champion"
    )
    assert not (split / "i-m2").exists()
    assert [int(v.version) for v in versions()] == [1, 2]
    assert_chain()


_TRAINING = """
import sys, time
from pathlib import Path
import evaluate, register
go, evaluate_argv, register_argv = Path(sys.argv[1]), sys.argv[2].split("|"), sys.argv[3].split("|")
while not go.exists():
    time.sleep(0.01)
code = evaluate.main(evaluate_argv)
sys.exit(code or register.main(register_argv))
"""


def test_concurrent_trainings_each_judged_against_the_previous_version(
    bootstrap: None, split: Path, tracking_uri: str
) -> None:
    """Two gate + register runs start together against the same champion."""
    from mlflow import MlflowClient

    models = [fit(split, f"c{i}", n_estimators=10, max_depth=12, seed=10 + i) for i in range(2)]
    before = {int(v.version) for v in versions()}
    go = split / "go"
    env = {**os.environ, "MLFLOW_TRACKING_URI": tracking_uri}
    for key in ("MLFLOW_RUN_ID", "MLFLOW_EXPERIMENT_ID"):
        env.pop(key, None)
    procs = []
    for i, model in enumerate(models):
        evaluation, info = split / f"eval-c{i}", split / f"i-c{i}"
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    _TRAINING,
                    str(go),
                    "|".join(eval_argv(model, split, evaluation)),
                    "|".join(register_argv(model, split, evaluation, info)),
                ],
                cwd=SRC,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    time.sleep(0.5)
    go.touch()
    outcomes = [(proc.wait(timeout=300), proc.stderr.read()) for proc in procs]
    registered = {int(v.version) for v in versions()} - before
    refused = 0
    for i, (code, err) in enumerate(outcomes):
        assert "Traceback" not in err, err
        decision = json.loads((split / f"eval-c{i}" / "decision.json").read_text())
        if code == 0:
            info = json.loads((split / f"i-c{i}" / "model_info.json").read_text())
            if info["registered"]:
                assert info["version"] in registered
                assert decision["champion_version"] == info["version"] - 1
        else:
            refused += 1
            assert "changed since the gate ran" in err.strip().splitlines()[-1], err
            assert not (split / f"i-c{i}").exists()
    assert registered, "one of the trainings must win"
    assert refused + len(registered) <= 2
    print(f"race: {len(registered)} registered, {refused} refused by compare-and-set")
    assert_chain()
    client = MlflowClient()
    judged = [
        client.get_model_version(NAME, str(v)).tags["gate_champion_version"] for v in registered
    ]
    assert sorted(int(j) for j in judged) == sorted(v - 1 for v in registered)
