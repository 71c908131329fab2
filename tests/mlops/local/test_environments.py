"""Steps run in the environment their component names (one isolated venv, built once)."""

from __future__ import annotations

import logging
import re
import sys
from pathlib import Path

import pytest

from mlops import settings
from mlops.amlspec.model import EnvironmentSpec, EnvUse
from mlops.amlspec.references import asset_ref
from mlops.local.environments import Environments, read_conda
from mlops.local.runner import RunResult, run_pipeline

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "pipelines"


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture(scope="module")
def runs(module_home: Path) -> tuple[RunResult, RunResult, list[str]]:
    """Both environment fixtures, sharing one env cache (the termcolor venv is built once)."""
    handler = _Collect()
    logger = logging.getLogger("mlops.local.environments")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        good = run_pipeline(FIXTURES / "environments.yml")
        missing = run_pipeline(FIXTURES / "missing-package.yml")
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    return good, missing, handler.messages


def test_a_conda_file_gets_its_own_venv_with_its_package(runs, module_home: Path) -> None:
    good, _, _ = runs
    assert {s.name: s.state for s in good.steps} == {
        "colour": "succeeded",
        "colour_again": "succeeded",
        "copy": "succeeded",
    }
    python = Path((good.outputs[("colour", "out")] / "python.txt").read_text().strip())
    assert python.parent.parent.parent == module_home / "envs"
    assert python != Path(sys.executable)
    assert "ok" in (good.outputs[("colour", "out")] / "colour.txt").read_text()


def test_a_package_the_environment_lacks_fails_naming_both(runs) -> None:
    _, missing, _ = runs
    failed = missing.failed
    assert failed is not None and failed.name == "needs_yaml"
    assert failed.cause == (
        "environment the inline environment of needs-yaml.yml has no package providing "
        "module 'yaml' (ModuleNotFoundError: No module named 'yaml'); add it to its conda file"
    )


def test_the_venv_is_built_once_and_warnings_are_given_once_per_run(runs) -> None:
    _, _, messages = runs
    assert sum(m.startswith("building environment") for m in messages) == 1
    conda_only = [m for m in messages if "conda-only packages libgomp" in m]
    assert len(conda_only) == 2  # once per run, though two steps of the first use it
    curated = [m for m in messages if "is an Azure ML curated environment" in m]
    assert len(curated) == 1 and "sklearn-1.5" in curated[0]


def test_the_projects_own_environment_reuses_the_venv(tmp_path: Path) -> None:
    conda = settings.REPO_ROOT / "data-science" / "environment" / "train-conda.yml"
    envs = Environments(home=tmp_path / "envs")
    use = EnvUse(1, text="azureml:x@latest", spec=EnvironmentSpec(conda, 1, "x", conda_file=conda))
    runtime = envs.runtime(use, "here")
    assert (runtime.python, runtime.isolated) == (Path(sys.executable), False)
    assert not (tmp_path / "envs").exists()  # nothing built
    curated = EnvUse(
        1, text="azureml:AzureML-sklearn@latest", ref=asset_ref("azureml:AzureML-sklearn@latest")
    )
    assert envs.runtime(curated, "here").python == Path(sys.executable)


def test_conda_files_split_into_pip_and_the_rest() -> None:
    spec = read_conda(FIXTURES / "envs" / "termcolor-conda.yml")
    assert (spec.pip, spec.conda_only, spec.python) == (("termcolor==3.3.0",), ("libgomp",), "3.11")


@pytest.mark.parametrize(
    "entry", ["--extra-index-url https://example.org/simple", "git+https://example.org/x.git"]
)
def test_pip_entries_outside_the_index_are_refused(tmp_path: Path, entry: str) -> None:
    from mlops.errors import MlopsError

    envs = Environments(home=tmp_path / "envs")
    with pytest.raises(
        MlopsError, match=re.escape(f"here: environment e: pip entry {entry!r} is not")
    ):
        envs.isolated("e", (entry,), {}, "here")
    assert not (tmp_path / "envs").exists()
