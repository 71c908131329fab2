"""Every rule against its broken fixture file; the clean fixture has no finding."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mlops.checks.findings import Finding
from mlops.checks.run import validate

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "validate"
AML = "mlops/azureml/train"
DEPLOY = "mlops/azureml/deploy"
ADO = "mlops/devops-pipelines"

# (path, line, rule, words the message must contain): one or more per broken file.
EXPECTED = [
    ("config-infra-stage.yml", 2, "config-keys", "'environment' is missing here"),
    ("config-infra-stage.yml", 2, "config-values", "'Fixture_1' must be 3-8 lowercase"),
    ("config-infra-stage.yml", 2, "config-values", "'Fixture_1' differs from config-infra-dev"),
    (f"{DEPLOY}/bad-batch-deployment.yml", 13, "aml-schema", "'append_rows' passed is not in"),
    (f"{DEPLOY}/bad-online-deployment.yml", 4, "aml-reference", "model 'no-such-model'"),
    (f"{DEPLOY}/bad-online-deployment.yml", 7, "aml-path", "'no_such_score.py' does not exist"),
    (f"{DEPLOY}/bad-online-deployment.yml", 10, "aml-schema", "Not a valid integer"),
    (f"{AML}/components/bad-command.yml", 11, "aml-binding", "declares no 'rowz'"),
    (f"{AML}/components/bad-path.yml", 5, "aml-path", "no-such-folder"),
    (f"{AML}/components/bad-reference.yml", 6, "aml-reference", "'no-such-env'"),
    (f"{AML}/components/bad-schema.yml", 6, "aml-input", "unsupported type 'mltabel'"),
    (f"{AML}/mystery.yml", 1, "aml-schema", "add a $schema line"),
    (f"{AML}/pipeline-bad-binding.yml", 14, "aml-binding", "no input 'raww'"),
    (f"{AML}/pipeline-bad-binding.yml", 19, "aml-binding", "job 'make' has no output 'tabel'"),
    (f"{AML}/pipeline-bad-input.yml", 15, "aml-input", "declares no input 'rowz'"),
    (f"{AML}/pipeline-bad-input.yml", 16, "aml-input", "'medium' is not one of fast, slow"),
    (f"{AML}/pipeline-bad-input.yml", 20, "aml-input", "required input 'table'"),
    (f"{AML}/pipeline-bad-key.yml", 13, "aml-key", "unknown key 'comput'"),
    (f"{AML}/pipeline-cycle.yml", 6, "aml-cycle", "make -> use -> make"),
    (f"{ADO}/bad-continue.yml", 5, "ado-continue-on-error", "continueOnError: true"),
    (f"{ADO}/bad-parameter.yml", 3, "ado-parameter", "required parameter 'who'"),
    (f"{ADO}/bad-parameter.yml", 5, "ado-parameter", "'whom' is not declared"),
    (f"{ADO}/bad-parameter.yml", 6, "ado-parameter", "value 'medium' is not a valid value"),
    (f"{ADO}/bad-parameter-type.yml", 6, "ado-parameter", "'retries' of"),
    (f"{ADO}/bad-parameter-type.yml", 7, "ado-parameter", "is not a valid Boolean"),
    (f"{ADO}/bad-schema.yml", 4, "ado-schema", "unknown key 'displayNme'"),
    (f"{ADO}/bad-script.yml", 6, "ado-script", "bash -n: syntax error"),
    (f"{ADO}/bad-script.yml", 10, "ado-script", "SC2045"),
    (f"{ADO}/bad-task.yml", 9, "ado-schema", "unknown key 'inlineScrpt'"),
    (f"{ADO}/bad-task.yml", 10, "ado-schema", "unknown task 'AzureCLII@2'"),
    (f"{ADO}/bad-template-kind.yml", 3, "ado-template", "holds steps but is used in jobs"),
    (f"{ADO}/templates/bad-declarations.yml", 4, "ado-parameter", "'purple' is not a valid value"),
    (f"{ADO}/templates/bad-declarations.yml", 8, "ado-parameter", "'parameters.shade' is used"),
    (f"{ADO}/bad-template.yml", 3, "ado-template", "'templates/missing.yml' not found"),
    (f"{ADO}/bad-variable.yml", 5, "ado-variable", "$(regoin) is not defined"),
    (f"{ADO}/bad-yaml.yml", 4, "ado-schema", "YAML: while parsing a block collection"),
]


def broken_tree(target: Path) -> Path:
    """The clean fixture with the broken files laid over it."""
    shutil.copytree(FIXTURES / "clean", target)
    shutil.copytree(FIXTURES / "broken", target, dirs_exist_ok=True)
    (target / "README.md").unlink()
    return target


@pytest.fixture(scope="module")
def broken_findings(tmp_path_factory: pytest.TempPathFactory) -> list[Finding]:
    return validate(broken_tree(tmp_path_factory.mktemp("validate") / "repo"))


def test_clean_fixture_has_no_findings() -> None:
    assert validate(FIXTURES / "clean") == []


@pytest.mark.parametrize(("path", "line", "rule", "words"), EXPECTED)
def test_rule_reports_its_fixture(
    broken_findings: list[Finding], path: str, line: int, rule: str, words: str
) -> None:
    at = [f for f in broken_findings if (f.path, f.line, f.rule) == (path, line, rule)]
    assert at, f"no {rule} finding at {path}:{line}; got {[str(f) for f in broken_findings]}"
    assert any(words in f.message for f in at), [f.message for f in at]


def test_nothing_else_is_reported(broken_findings: list[Finding]) -> None:
    # bad-script.yml's missing `fi` also draws shellcheck's parse errors on the same lines.
    expected = {(p, rule) for p, _, rule, _ in EXPECTED}
    assert {(f.path, f.rule) for f in broken_findings} == expected
    assert [f.path for f in broken_findings if f.path.endswith("pipeline.yml")] == []


def test_findings_are_sorted_and_unique(broken_findings: list[Finding]) -> None:
    assert broken_findings == sorted(set(broken_findings))


def test_the_child_process_path_finds_the_same(
    broken_findings: list[Finding], tmp_path_factory: pytest.TempPathFactory
) -> None:
    # The command loads Azure ML specs in a child process; its findings must round-trip.
    root = broken_tree(tmp_path_factory.mktemp("parallel") / "repo")
    assert validate(root, parallel=True) == broken_findings
