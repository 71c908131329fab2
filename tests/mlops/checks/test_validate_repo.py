"""The repository validates clean, and each change the issue names makes it fail on that file.

The mutations work on a copy of the repository's Azure-facing files and find
their target by parsing (the first binding, the first passed parameter, ...), so
they keep working as other areas add pipelines and specs.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlops.checks.ado_model import discover
from mlops.checks.findings import Finding
from mlops.checks.run import validate
from mlops.settings import REPO_ROOT

ADO_DIR = "mlops/devops-pipelines"
COPIED = ("mlops/azureml", ADO_DIR)
LINKED = ("data-science", "data")


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Azure-facing files of the repository; step code and data are linked, not copied."""
    root = tmp_path_factory.mktemp("pristine") / "repo"
    root.mkdir()
    folders = [REPO_ROOT / rel for rel in COPIED]
    folders += [p for p in REPO_ROOT.glob("infrastructure/**/pipelines") if p.is_dir()]
    for folder in folders:
        if folder.is_dir():
            shutil.copytree(folder, root / folder.relative_to(REPO_ROOT))
    for path in REPO_ROOT.glob("config-infra-*.yml"):
        shutil.copy(path, root / path.name)
    for rel in LINKED:
        (root / rel).symlink_to(REPO_ROOT / rel)
    return root


@pytest.fixture
def repo(pristine: Path, tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "repo"
    shutil.copytree(pristine, root, symlinks=True)
    yield root


def _edit_line(path: Path, line: int, old: str, new: str) -> None:
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    assert old in lines[line - 1], (path, line, lines[line - 1])
    lines[line - 1] = lines[line - 1].replace(old, new, 1)
    path.write_text("".join(lines), encoding="utf-8")


def _names(findings: list[Finding]) -> set[tuple[str, str]]:
    return {(f.path, f.rule) for f in findings}


def test_the_repository_validates_clean() -> None:
    findings = validate(REPO_ROOT)
    assert findings == [], "\n".join(map(str, findings))


def test_a_misspelled_key_in_a_pipeline(repo: Path) -> None:
    pipeline = next(
        f for f in sorted((repo / ADO_DIR).glob("*.yml")) if "displayName:" in f.read_text()
    )
    text = pipeline.read_text(encoding="utf-8")
    pipeline.write_text(text.replace("displayName:", "displayNme:", 1), encoding="utf-8")
    findings = validate(repo, [pipeline])
    rel = pipeline.relative_to(repo).as_posix()
    assert (rel, "ado-schema") in _names(findings)
    assert any("'displayNme'" in f.message for f in findings)


def test_a_deleted_template(repo: Path) -> None:
    project = discover(repo)
    ref = next(
        r
        for f in sorted(project.files.values(), key=lambda f: f.rel)
        for r in project.template_refs(f)
        if r.target is not None and r.target.is_file() and r.context == "steps"
    )
    ref.target.unlink()
    findings = validate(repo, [ref.source.path])
    assert (ref.source.rel, "ado-template") in _names(findings)
    assert any(f"{ref.raw!r} not found" in f.message for f in findings)


def test_an_undeclared_template_parameter(repo: Path) -> None:
    project = discover(repo)
    ref = next(
        r
        for f in sorted(project.files.values(), key=lambda f: f.rel)
        for r in project.template_refs(f)
        if isinstance(r.node.get("parameters"), dict) and r.node["parameters"]
    )
    passed = ref.node["parameters"]
    name = next(iter(passed))
    _edit_line(ref.source.path, passed.key_line(name), f"{name}:", f"{name}Undeclared:")
    findings = validate(repo, [ref.source.path])
    assert any(
        f.rule == "ado-parameter" and f"'{name}Undeclared' is not declared" in f.message
        for f in findings
    ), findings


def test_a_renamed_component_input(repo: Path) -> None:
    component = repo / "mlops/azureml/train/components/prep.yml"
    text = component.read_text(encoding="utf-8")
    component.write_text(text.replace("  test_size:", "  holdout_size:", 1), encoding="utf-8")
    findings = validate(repo, [repo / "mlops/azureml"])
    names = _names(findings)
    # The pipeline still binds the old name; the component's command still uses it.
    assert ("mlops/azureml/train/pipeline.yml", "aml-input") in names, findings
    assert ("mlops/azureml/train/components/prep.yml", "aml-binding") in names, findings


def test_a_binding_to_an_output_that_does_not_exist(repo: Path) -> None:
    pipeline = repo / "mlops/azureml/train/pipeline.yml"
    text = pipeline.read_text(encoding="utf-8")
    match = re.search(r"\$\{\{\s*parent\.jobs\.[\w-]+\.outputs\.([\w-]+)\s*\}\}", text)
    assert match is not None
    start, end = match.span(1)
    pipeline.write_text(text[:start] + "no_such_output" + text[end:], encoding="utf-8")
    findings = validate(repo, [pipeline])
    assert ("mlops/azureml/train/pipeline.yml", "aml-binding") in _names(findings)
    assert any("no output 'no_such_output'" in f.message for f in findings)


def test_a_key_dropped_from_one_config_infra_file(repo: Path) -> None:
    prod = repo / "config-infra-prod.yml"
    lines = prod.read_text(encoding="utf-8").splitlines(keepends=True)
    index = next(i for i, line in enumerate(lines) if line.startswith("  location:"))
    del lines[index]
    prod.write_text("".join(lines), encoding="utf-8")
    findings = validate(repo, [prod])
    assert [(f.path, f.rule) for f in findings] == [("config-infra-prod.yml", "config-keys")]
    assert "'location' is missing here" in findings[0].message


def test_a_variable_that_nothing_defines(repo: Path) -> None:
    ado_file = next(
        f
        for f in sorted((repo / ADO_DIR).rglob("*.yml"))
        if "$(namespace)" in f.read_text(encoding="utf-8")
    )
    text = ado_file.read_text(encoding="utf-8")
    ado_file.write_text(text.replace("$(namespace)", "$(name_space)", 1), encoding="utf-8")
    findings = validate(repo, [ado_file])
    rel = ado_file.relative_to(repo).as_posix()
    assert (rel, "ado-variable") in _names(findings)
    assert any("$(name_space) is not defined" in f.message for f in findings)
