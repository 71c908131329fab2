"""Reuse of step results, as Azure ML reuses a deterministic component's job when its
component, code, environment and inputs are unchanged (``is_deterministic``, default true:
azure-ai-ml 1.35.2 azure/ai/ml/entities/_component/component.py:Component.__init__).
``--no-reuse`` (Azure: ``settings.force_rerun``) runs everything again.

The key hashes the component file, every file of its code folder (path, size, mtime),
the environment, each input value (for a path: its files' relative names, sizes and
mtimes) and the output locations the spec sets. Records live under ``$MLOPS_HOME/reuse``.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mlops import settings
from mlops.local.pipeline import Step


def _tree(path: Path) -> list[Any]:
    if path.is_file():
        stat = path.stat()
        return [stat.st_size, stat.st_mtime_ns]
    entries: list[Any] = []
    for root, dirs, files in os.walk(path, followlinks=True):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "__pycache__")
        for name in sorted(files):
            full = Path(root) / name
            try:
                stat = full.stat()
            except OSError:
                continue
            entries.append([full.relative_to(path).as_posix(), stat.st_size, stat.st_mtime_ns])
    return entries


def key(step: Step, inputs: Mapping[str, Any], environment: str) -> str | None:
    """The reuse key of a step, or None when it must always run."""
    component = step.component
    if not component.is_deterministic or step.kind != "command" or step.automl:
        return None
    digest = hashlib.sha256()
    source = component.path.read_bytes() if not component.inline else repr(component.doc).encode()
    digest.update(source)
    payload = {
        "code": _tree(component.code) if component.code else None,
        "environment": environment,
        "env_vars": step.environment_variables,
        "outputs": step.output_paths,
        "inputs": {
            name: (["path", _tree(Path(v))] if isinstance(v, Path) else ["value", repr(v)])
            for name, v in sorted(inputs.items())
        },
    }
    digest.update(json.dumps(payload, sort_keys=True, default=str).encode())
    return digest.hexdigest()


def _record(key_: str) -> Path:
    return settings.mlops_home() / "reuse" / f"{key_}.json"


def lookup(key_: str) -> tuple[dict[str, Path], str] | None:
    """Outputs and run id of an earlier successful run with this key, if still on disk."""
    try:
        data = json.loads(_record(key_).read_text())
    except (OSError, ValueError):
        return None
    outputs = {name: Path(p) for name, p in data["outputs"].items()}
    if not all(p.exists() for p in outputs.values()):
        return None
    return outputs, str(data["run_id"])


def remember(key_: str, outputs: Mapping[str, Path], run_id: str) -> None:
    path = _record(key_)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(
        json.dumps({"outputs": {k: str(v) for k, v in outputs.items()}, "run_id": run_id})
    )
    tmp.replace(path)
