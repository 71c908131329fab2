"""The `mlops` entry point turns user errors into one line and a non-zero exit."""

from __future__ import annotations

import subprocess
import sys

import pytest

from mlops import cli
from mlops.errors import MlopsError


def test_usage_error_is_one_line_without_traceback():
    proc = subprocess.run(
        [sys.executable, "-m", "mlops", "smoke-test"], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 2
    assert "Missing option '--url'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_areas_are_discovered():
    names = {c.name for c in cli.app.registered_commands}
    groups = {g.name for g in cli.app.registered_groups}
    assert {"generate-data", "train", "validate", "serve", "smoke-test", "promote"} <= names
    assert {"azure", "rollout", "release"} <= groups


def test_mlops_error_becomes_error_line(monkeypatch, capsys):
    def boom() -> None:
        raise MlopsError("config-infra-dev.yml: key 'postfix': value 'x' is not 4 digits")

    monkeypatch.setattr(cli.app, "registered_commands", list(cli.app.registered_commands))
    cli.app.command("boom")(boom)
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["boom"])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: config-infra-dev.yml: key 'postfix': value 'x' is not 4 digits"]
