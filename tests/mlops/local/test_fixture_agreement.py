"""Every fixture pipeline through both the validator (`mlops validate`'s rules and the
azure-ai-ml loader) and the runner's loader: they must agree.

- the runner loads it  <=>  the validator finds nothing in it or in what it uses;
- the runner refuses it as a spec problem  =>  the validator reports that same problem;
- the runner refuses it for a twin limitation only when the file says so
  (``# twin: cannot run locally``), and then the validator finds nothing.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mlops import settings
from mlops.amlspec.files import YDict, read
from mlops.amlspec.kinds import kind_of
from mlops.amlspec.problems import SpecError
from mlops.amlspec.rules import check_pipeline_job
from mlops.checks import aml_bindings, aml_load
from mlops.checks.aml_specs import AmlProject, AmlSpec
from mlops.checks.findings import Finding
from mlops.errors import MlopsError
from mlops.local.pipeline import load_pipeline, repo_catalogue

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "pipelines"
PIPELINES = sorted(
    p
    for p in FIXTURES.rglob("*.yml")
    if isinstance(read(p), YDict)
    and read(p).get("type") == "pipeline"
    and "jobs" in read(p)
    and kind_of(p, read(p)) == "job"
)
LIMITATION = "# twin: cannot run locally"


def _bare(message: str) -> str:
    """A message without its parenthesised lists (which name what each side has loaded)."""
    return re.sub(r"\s*\([^)]*\)", "", message)


@pytest.fixture(scope="module")
def findings() -> list[Finding]:
    """The validator over every fixture spec (as `mlops validate` runs it on mlops/azureml)."""
    project = AmlProject(settings.REPO_ROOT)
    for path in sorted(FIXTURES.rglob("*.yml")):
        doc = read(path)
        if not isinstance(doc, YDict) or ("dependencies" in doc and "$schema" not in doc):
            continue
        kind = kind_of(path, doc)
        assert kind is not None, path
        project.specs[path.resolve()] = AmlSpec(path.resolve(), project.rel(path), doc, kind)
    return aml_bindings.check(project) + aml_load.check(project)


def test_there_are_good_and_bad_fixtures() -> None:
    names = {p.relative_to(FIXTURES).as_posix() for p in PIPELINES}
    assert {"nested.yml", "sweep-grid.yml", "bad/cycle.yml", "parallel.yml"} <= names
    assert len(PIPELINES) >= 15


@pytest.mark.parametrize("path", PIPELINES, ids=lambda p: p.relative_to(FIXTURES).as_posix())
def test_validator_and_runner_agree(path: Path, findings: list[Finding]) -> None:
    checked = check_pipeline_job(path, repo_catalogue(path), settings.REPO_ROOT)
    used = {settings.REPO_ROOT / f.path for f in findings} & ({path} | checked.loader.files())
    mine = [f for f in findings if settings.REPO_ROOT / f.path in used]
    try:
        load_pipeline(path)
    except SpecError as exc:
        problem = exc.problem
        shown = (str(problem.path.relative_to(settings.REPO_ROOT)), problem.line, problem.rule)
        assert shown in {(f.path, f.line, f.rule) for f in mine}, (str(exc), mine)
        assert _bare(problem.message) in {_bare(f.message) for f in mine}
        return
    except MlopsError as exc:
        assert LIMITATION in path.read_text(), f"runner refuses a valid pipeline: {exc}"
        assert "cannot run locally" in str(exc)
        assert mine == []
        return
    assert LIMITATION not in path.read_text()
    assert mine == [], [str(f) for f in mine]
