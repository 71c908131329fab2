"""`mlops train` refuses bad options with one line and exit 1, before anything runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops.cli import main


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--trainer", "xgb"], "error: --trainer 'xgb': expected one of automl, rf"),
        (["--env", "qa"], "error: unknown environment 'qa': expected one of dev, stage, prod"),
        (["--set", "seed"], "error: --set 'seed': expected NAME=VALUE"),
        (["--pipeline", "{toy}/pipeline.yml", "--set", "nope=1"], "has no input 'nope'"),
        (["--pipeline", "{toy}/pipeline.yml", "--seed", "1"], "has no input 'seed'"),
        (["--pipeline", "{toy}/pipeline.yml", "--set", "n=500"], "500 is above the maximum 100"),
        (["--pipeline", "{toy}/missing.yml"], "error: pipeline file not found"),
        (["--data", "{toy}/nowhere", "--pipeline", "{toy}/pipeline.yml"], "nowhere does not exist"),
    ],
    ids=[
        "trainer",
        "env",
        "set-syntax",
        "set-unknown",
        "seed-unknown",
        "set-bounds",
        "file",
        "data",
    ],
)
def test_bad_options_fail_in_one_line(
    toy: Path,
    module_home: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    argv = ["train", *(a.replace("{toy}", str(toy)) for a in args)]
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0]
    assert not (module_home / "runs").exists()  # nothing ran, nothing was tracked
    assert not (module_home / "dev").exists()
