"""mlops validate compiles every entry pipeline with the twin's expander (rule ado-compile)."""

from __future__ import annotations

from pathlib import Path

from mlops.checks import ado_compile
from mlops.checks.ado import check
from mlops.checks.ado_model import discover
from mlops.settings import REPO_ROOT


def _tree(root: Path, text: str) -> Path:
    folder = root / "mlops" / "devops-pipelines"
    folder.mkdir(parents=True)
    (folder / "p.yml").write_text(text, encoding="utf-8")
    return root


def test_a_pipeline_that_does_not_compile_is_one_finding(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        "trigger: none\nparameters:\n  - name: n\n    type: number\n    default: 1\n"
        "steps:\n  - bash: echo ${{ format('{0}{1}', parameters.n) }}\n",
    )
    findings = ado_compile.check(discover(root), set())
    assert [str(f) for f in findings] == [
        "mlops/devops-pipelines/p.yml:7: ado-compile: format: no argument {1} in '{0}{1}'"
    ]


def test_required_run_parameters_get_a_placeholder(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        "trigger: none\nparameters:\n  - name: who\n    type: string\n"
        "  - name: mode\n    values: [plan, apply]\n"
        "steps:\n  - bash: echo ${{ parameters.who }} ${{ parameters.mode }}\n",
    )
    assert ado_compile.check(discover(root), set()) == []


def test_the_repository_pipelines_compile() -> None:
    findings = [f for f in check(REPO_ROOT) if f.rule == ado_compile.RULE]
    assert findings == []
