"""The `mlops` entry point: lazy areas, every command in the help, one-line errors."""

from __future__ import annotations

import importlib
import inspect
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer

import mlops
from mlops import cli
from mlops.errors import MlopsError

#: Libraries DESIGN.md keeps inside the commands that need them.
HEAVY = ("pandas", "sklearn", "mlflow", "azure.ai.ml", "onnxruntime", "numpy")

#: What `python -c` prints after running `mlops ARGS`: the command areas it imported.
PROBE = """
import json, sys
from mlops.cli import main
code = 0
try:
    main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
print(json.dumps({
    "code": code,
    "areas": sorted(m for m in sys.modules if m.startswith("mlops.") and m.endswith(".commands")),
    "heavy": sorted(m for m in HEAVY if m in sys.modules),
}))
""".replace("HEAVY", repr(HEAVY))


def _mlops(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "160", "TERM": "dumb"}
    return subprocess.run(
        [sys.executable, "-m", "mlops", *args], capture_output=True, text=True, env=env, timeout=120
    )


def test_usage_error_is_one_line_without_traceback():
    proc = _mlops("smoke-test")
    assert proc.returncode == 2
    assert "Missing option '--url'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_every_area_is_discovered_with_its_commands():
    assert set(cli.OWNERS.values()) == {
        "ado", "azure", "checks", "datagen", "endpoints", "local", "monitoring", "promotion",
    }  # fmt: skip
    assert {"generate-data", "train", "validate", "serve", "smoke-test", "promote"} <= set(
        cli.OWNERS
    )
    assert cli.OWNERS["release"] == "promotion"
    assert cli.OWNERS["rollout"] == "endpoints"


def _first_paragraph(command) -> str:
    """What the help of the ``mlops`` group shows for a command (typer.rich_utils)."""
    return inspect.cleandoc(command.short_help or command.help or "").split("\n\n")[0].strip()


@pytest.mark.parametrize("area", sorted(set(cli.OWNERS.values())))
def test_declared_names_and_help_are_what_register_adds(area: str):
    built = cli.area_commands(area)
    declared = importlib.import_module(f"mlops.{area}").COMMANDS
    actual = {name: _first_paragraph(command) for name, command in built.items()}
    assert declared == actual, f"mlops/{area}/__init__.py COMMANDS: copy {actual}"
    assert list(declared) == list(actual)  # help order is register()'s order


def test_help_from_declarations_is_the_help_of_the_loaded_areas(monkeypatch, capsys):
    monkeypatch.setenv("COLUMNS", "100")
    group = typer.main.get_command(cli.app)
    ctx = group.make_context("mlops", [], resilient_parsing=True)
    group.get_help(ctx)  # typer's rich help prints itself
    declared = capsys.readouterr().out
    assert group.commands._built == {}  # listing built no area
    for name in list(group.commands):
        assert group.commands[name].name == name  # builds the area, as running it would
    group.get_help(ctx)
    loaded = capsys.readouterr().out
    assert "generate-data" in declared
    assert declared == loaded


def test_an_area_without_a_declaration_is_refused(tmp_path: Path, monkeypatch):
    fake = tmp_path / "zz_undeclared"
    fake.mkdir()
    (fake / "__init__.py").write_text('"""An area that forgot COMMANDS."""\n')
    (fake / "commands.py").write_text("def register(app):\n    pass\n")
    monkeypatch.setattr(mlops, "__path__", [*mlops.__path__, str(tmp_path)])
    try:
        with pytest.raises(RuntimeError, match=r"mlops/zz_undeclared/__init__.py must declare"):
            cli._declared()
    finally:
        sys.modules.pop("mlops.zz_undeclared", None)


def test_help_lists_every_command_with_its_one_line_help():
    proc = _mlops("--help")
    assert proc.returncode == 0, proc.stderr
    rows = re.findall(r"^│ (\S+) +(\S.*?) *│$", proc.stdout, flags=re.MULTILINE)
    rows = [(name, text) for name, text in rows if not name.startswith("-")]
    assert [name for name, _ in rows] == list(cli.OWNERS)
    for name, first_line in rows:
        assert cli.DECLARED[name][1].startswith(first_line), (name, first_line)


def test_completion_lists_every_command():
    group = typer.main.get_command(cli.app)
    ctx = group.make_context("mlops", [], resilient_parsing=True)
    items = [i for i in group.shell_complete(ctx, "") if not i.value.startswith("-")]
    assert [i.value for i in items] == list(cli.OWNERS)
    assert {i.value: i.help for i in items}[
        "serve"
    ] == "Serve a model with the Azure ML inference..."
    assert [i.value for i in group.shell_complete(ctx, "ro")] == ["rollout", "rollback"]
    assert group.commands._built == {}  # completing names built no area


@pytest.mark.parametrize(
    ("args", "area"),
    [
        (["--help"], None),
        (["azure", "pins"], "mlops.azure.commands"),
        (["batch-score", "--help"], "mlops.endpoints.commands"),
        (["release", "--help"], "mlops.promotion.commands"),
        (["ado", "--help"], "mlops.ado.commands"),
        (["validate", "--help"], "mlops.checks.commands"),
        (["generate-data", "--help"], "mlops.datagen.commands"),
        (["data", "--help"], "mlops.local.commands"),
        (["monitoring", "--help"], "mlops.monitoring.commands"),
    ],
)
def test_a_command_imports_only_its_own_area(args: list[str], area: str | None):
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    seen = json.loads(proc.stdout.strip().splitlines()[-1])
    assert seen["code"] == 0
    assert seen["areas"] == ([area] if area else [])
    assert seen["heavy"] == []


def test_unknown_command_is_clicks_usage_error():
    proc = _mlops("nope")
    assert proc.returncode == 2
    assert proc.stderr.splitlines()[-1] == "Error: No such command 'nope'."
    assert "Traceback" not in proc.stderr
    near = _mlops("serv")
    assert near.returncode == 2
    assert near.stderr.splitlines()[-1] == "Error: No such command 'serv'. Did you mean 'serve'?"


def test_tree_walkers_see_every_command_through_commands():
    group = typer.main.get_command(cli.app)
    assert list(group.commands) == list(cli.OWNERS)
    assert "check" in group.commands["release"].commands
    assert group.commands.get("no-such") is None


def _with_command(monkeypatch, name: str, body) -> None:
    monkeypatch.setattr(cli.app, "registered_commands", list(cli.app.registered_commands))
    cli.app.command(name)(body)


def test_mlops_error_becomes_error_line(monkeypatch, capsys):
    def boom() -> None:
        raise MlopsError("config-infra-dev.yml: key 'postfix': value 'x' is not 4 digits")

    _with_command(monkeypatch, "boom", boom)
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["boom"])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: config-infra-dev.yml: key 'postfix': value 'x' is not 4 digits"]


def test_ctrl_c_exits_130(monkeypatch):
    def interrupted() -> None:
        raise KeyboardInterrupt

    _with_command(monkeypatch, "interrupted", interrupted)
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["interrupted"])
    assert exit_info.value.code == 130


def test_typer_exit_code_is_the_process_exit_code(monkeypatch):
    def three() -> None:
        raise typer.Exit(3)

    _with_command(monkeypatch, "three", three)
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["three"])
    assert exit_info.value.code == 3
