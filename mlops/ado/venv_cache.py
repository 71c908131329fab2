"""The emulated agent's one shortcut: a job's venv (templates/python-venv.yml) is built once.

On Azure DevOps every job builds its venv in ``Agent.TempDirectory`` and the template still
does so, unchanged. ``mlops ado run`` runs the template's script as written only the first time
its inputs are seen, with ``VENV`` pointing at ``$MLOPS_HOME/ado/venvs/<key>``; a later job with
the same key reuses that venv: ``$(Agent.TempDirectory)/venv`` links to it and its ``bin`` goes
first on PATH, as the script's ``task.prependpath`` would put it. It is what a ``Cache@2`` step
keyed on requirements.lock would do on a real agent
(https://learn.microsoft.com/en-us/azure/devops/pipelines/release/caching). The key is the
sha256 of everything the script's result depends on: its text, the requirements file, the
pyproject.toml (the editable install), the sources folder the editable install points at, and
the interpreter that makes the venv; an edit to any of them builds a new venv. A build that
fails leaves nothing behind, so the next job tries again.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import shutil
import sys
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path

from mlops.ado.model import Step

TEMPLATE = "mlops/devops-pipelines/templates/python-venv.yml"
STAMP = ".mlops-ado-venv.json"


def applies(step: Step) -> bool:
    """True for the bash step of templates/python-venv.yml."""
    return step.kind == "bash" and step.node.file == TEMPLATE


def key(script: str, env: Mapping[str, str], root: Path) -> str:
    """The cache key of one build of the venv (see the module docstring)."""
    digest = hashlib.sha256()

    def put(label: str, value: bytes) -> None:
        digest.update(f"{label}:{len(value)}:".encode() + value)

    put("script", script.encode())
    put("python", f"{env.get('PYTHON', '')}|{sys.executable}|{sys.version}".encode())
    requirements = env.get("REQUIREMENTS") or "requirements.lock"
    for label, name in (("requirements", requirements), ("pyproject", "pyproject.toml")):
        path = root / name
        # A missing file keys a build of its own, which then fails as it would on the agent.
        put(label, path.read_bytes() if path.is_file() else b"<missing>")
    put("sources", str(root.resolve()).encode())
    return digest.hexdigest()


@contextlib.contextmanager
def slot(home: Path, cache_key: str) -> Iterator[tuple[Path, bool]]:
    """The venv folder for ``cache_key`` and whether it is built; one builder at a time."""
    base = home / "ado" / "venvs"
    base.mkdir(parents=True, exist_ok=True)
    target = base / cache_key[:20]
    with open(base / f"{cache_key[:20]}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        ready = (target / STAMP).is_file()
        if not ready and target.exists():
            shutil.rmtree(target)  # a build that did not finish
        yield target, ready


def mark_built(target: Path, cache_key: str, requirements: str) -> None:
    (target / STAMP).write_text(
        json.dumps(
            {
                "key": cache_key,
                "requirements": requirements,
                "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
            }
        )
        + "\n"
    )


def discard(target: Path) -> None:
    shutil.rmtree(target, ignore_errors=True)


def link(job_venv: Path, target: Path) -> None:
    """``$(Agent.TempDirectory)/venv`` of the job, pointing at the shared venv."""
    if job_venv.is_symlink() or job_venv.exists():
        return
    job_venv.parent.mkdir(parents=True, exist_ok=True)
    job_venv.symlink_to(target, target_is_directory=True)
