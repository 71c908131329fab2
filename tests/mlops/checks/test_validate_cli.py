"""``mlops validate``: output lines, --json shape, exit codes, path filtering."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from mlops.cli import main

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "validate"
LINE = r"^[^:]+:\d+: [a-z-]+: .+$"


@pytest.fixture(scope="module")
def broken(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A broken tree with ADO files only, so the CLI tests do not load Azure ML specs."""
    root = tmp_path_factory.mktemp("cli") / "repo"
    shutil.copytree(FIXTURES / "clean", root, ignore=shutil.ignore_patterns("azureml"))
    shutil.copytree(
        FIXTURES / "broken" / "mlops" / "devops-pipelines",
        root / "mlops" / "devops-pipelines",
        dirs_exist_ok=True,
    )
    return root


@pytest.fixture(scope="module")
def clean_ado(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The clean fixture without Azure ML specs: no child process, no azure-ai-ml import."""
    root = tmp_path_factory.mktemp("cli-clean") / "repo"
    shutil.copytree(FIXTURES / "clean", root, ignore=shutil.ignore_patterns("azureml"))
    return root


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        main(argv)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_clean_tree_exits_zero_and_prints_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    # The full fixture: the command loads its Azure ML specs in a child process.
    code, out, _ = run(["validate", "--root", str(FIXTURES / "clean")], capsys)
    assert (code, out) == (0, "")


def test_findings_exit_one_with_sorted_lines(
    broken: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(["validate", "--root", str(broken)], capsys)
    lines = out.splitlines()
    assert code == 1
    # Sorted by path, then line as a number (so line 10 follows line 6).
    keys = [(line.split(":")[0], int(line.split(":")[1])) for line in lines]
    assert keys == sorted(keys)
    assert all(re.match(LINE, line) for line in lines), lines
    assert (
        "mlops/devops-pipelines/bad-continue.yml:5: ado-continue-on-error: continueOnError: "
        "true lets a failed step or job pass; fail fast instead" in lines
    )
    assert f"{len(lines)} finding(s)" in err


def test_json_lists_path_line_rule_message(
    broken: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(["validate", "--json", "--root", str(broken)], capsys)
    findings = json.loads(out)
    assert code == 1
    assert all(set(f) == {"path", "line", "rule", "message"} for f in findings)
    assert {
        "path": "mlops/devops-pipelines/bad-template.yml",
        "line": 3,
        "rule": "ado-template",
        "message": "template 'templates/missing.yml' not found "
        "(looked for mlops/devops-pipelines/templates/missing.yml)",
    } in findings


def test_json_of_a_clean_tree_is_an_empty_list(
    clean_ado: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(["validate", "--json", "--root", str(clean_ado)], capsys)
    assert (code, json.loads(out)) == (0, [])


def test_paths_limit_the_findings_to_those_files(
    broken: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = broken / "mlops" / "devops-pipelines" / "bad-variable.yml"
    code, out, _ = run(["validate", str(target), "--root", str(broken)], capsys)
    assert code == 1
    assert out.splitlines() == [
        "mlops/devops-pipelines/bad-variable.yml:5: ado-variable: $(regoin) is not defined: "
        "no variable, variable template, output variable or predefined variable has that name"
    ]


def test_a_path_that_does_not_exist_is_an_error(
    broken: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = broken / "no-such-file.yml"
    code, out, err = run(["validate", str(missing), "--root", str(broken)], capsys)
    assert (code, out) == (1, "")
    assert err.strip() == f"error: {missing}: no such file or folder"


def test_the_root_is_found_upwards_from_a_subfolder(tmp_path: Path) -> None:
    from mlops.checks.commands import repository_root

    (tmp_path / "pyproject.toml").write_text("", encoding="utf-8")
    (tmp_path / "mlops" / "azureml").mkdir(parents=True)
    assert repository_root(tmp_path / "mlops" / "azureml") == tmp_path.resolve()
