"""The emulated agent builds the venv of templates/python-venv.yml once per key, then reuses it.

The template here is a stand-in with the real template's path and interface (PYTHON,
REQUIREMENTS, VENV; task.prependpath), whose script counts its builds: the real template is
run by the release-day test.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from mlops.ado import venv_cache
from mlops.ado.runner import RunOptions, run_pipeline

TEMPLATE = """
parameters:
  - name: requirementsFile
    type: string
    default: requirements.lock
steps:
  - bash: |
      set -euo pipefail
      echo build >> "$COUNTER"
      test "$(cat "$REQUIREMENTS")" != broken
      mkdir -p "$VENV/bin"
      printf '#!/bin/sh\\necho from-the-venv\\n' > "$VENV/bin/pinned-tool"
      chmod +x "$VENV/bin/pinned-tool"
      echo "##vso[task.prependpath]$VENV/bin"
    displayName: Python venv with the pinned set
    env:
      PYTHON: python3
      REQUIREMENTS: ${{ parameters.requirementsFile }}
      VENV: $(Agent.TempDirectory)/venv
      COUNTER: $(Build.SourcesDirectory)/builds.txt
"""

PIPELINE = """
jobs:
  - job: one
    steps:
      - template: mlops/devops-pipelines/templates/python-venv.yml
      - bash: test "$(pinned-tool)" = from-the-venv && test -L "$(Agent.TempDirectory)/venv"
  - job: two
    dependsOn: one
    steps:
      - template: mlops/devops-pipelines/templates/python-venv.yml
      - bash: |
          test "$(pinned-tool)" = from-the-venv
          test -x "$(Agent.TempDirectory)/venv/bin/pinned-tool"
"""


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "repo"
    (root / Path(venv_cache.TEMPLATE).parent).mkdir(parents=True)
    (root / venv_cache.TEMPLATE).write_text(TEMPLATE.lstrip())
    (root / "p.yml").write_text(PIPELINE.lstrip())
    (root / "requirements.lock").write_text("pinned==1\n")
    (root / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=root, check=True)
    monkeypatch.setenv("MLOPS_HOME", str(tmp_path / "home"))
    return root


def _builds(root: Path) -> int:
    path = root / "builds.txt"
    return len(path.read_text().splitlines()) if path.is_file() else 0


def _venv_steps(record) -> list[str]:
    return [Path(j.steps[0].log or "").read_text() for s in record.stages for j in s.jobs]


def test_the_second_job_and_the_next_run_reuse_the_venv(repo: Path) -> None:
    record = run_pipeline(repo / "p.yml", RunOptions(), root=repo)
    assert record.result == "Succeeded", record.to_dict()
    assert _builds(repo) == 1
    logs = _venv_steps(record)
    assert "reused" not in logs[0] and "venv of the pinned set reused" in logs[1]
    again = run_pipeline(repo / "p.yml", RunOptions(), root=repo)
    assert again.result == "Succeeded" and _builds(repo) == 1
    venvs = [p for p in (repo.parent / "home" / "ado" / "venvs").iterdir() if p.is_dir()]
    assert len(venvs) == 1 and (venvs[0] / venv_cache.STAMP).is_file()


def test_a_changed_lock_or_template_builds_a_new_venv(repo: Path) -> None:
    run_pipeline(repo / "p.yml", RunOptions(), root=repo)
    (repo / "requirements.lock").write_text("pinned==2\n")
    assert run_pipeline(repo / "p.yml", RunOptions(), root=repo).result == "Succeeded"
    assert _builds(repo) == 2
    template = repo / venv_cache.TEMPLATE
    template.write_text(template.read_text().replace("echo build", "echo  build"))
    assert run_pipeline(repo / "p.yml", RunOptions(), root=repo).result == "Succeeded"
    assert _builds(repo) == 3


def test_a_failed_build_fails_the_job_leaves_nothing_and_is_tried_again(repo: Path) -> None:
    (repo / "requirements.lock").write_text("broken")
    record = run_pipeline(repo / "p.yml", RunOptions(), root=repo)
    assert record.result == "Failed"
    one = record.stages[0].jobs[0]
    assert one.result == "Failed" and one.steps[0].result == "Failed"
    assert one.steps[1].result == "Skipped"
    venvs = repo.parent / "home" / "ado" / "venvs"
    assert [p for p in venvs.iterdir() if p.is_dir()] == []
    record = run_pipeline(repo / "p.yml", RunOptions(), root=repo)
    assert _builds(repo) == 2  # tried again, not taken from a half-built cache
