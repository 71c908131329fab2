"""Spec files: YAML with lines (the validator's loader), cached, and local-path rules."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from mlops.yamlload import YDict, YList, error_line, error_message, load

__all__ = ["SpecFile", "YDict", "YList", "is_local", "local_path", "read"]

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_CACHE: dict[Path, tuple[int, int, Any]] = {}


class SpecFile:
    """A YAML file that cannot be read: the reason and the line."""

    def __init__(self, path: Path, line: int, message: str) -> None:
        self.path, self.line, self.message = path, line, message


def read(path: Path) -> YDict | SpecFile:
    """The file's top-level mapping, or a SpecFile saying why there is none."""
    path = path.resolve()
    try:
        stat = path.stat()
    except OSError:
        return SpecFile(path, 1, "file not found")
    cached = _CACHE.get(path)
    if cached is not None and cached[:2] == (stat.st_mtime_ns, stat.st_size):
        return cached[2]
    try:
        doc: Any = load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        doc = SpecFile(path, error_line(exc), f"YAML: {error_message(exc)}")
    except (OSError, UnicodeDecodeError) as exc:
        doc = SpecFile(path, 1, f"cannot read it ({exc})")
    if not isinstance(doc, YDict | SpecFile):
        doc = SpecFile(path, 1, "not a YAML mapping")
    _CACHE[path] = (stat.st_mtime_ns, stat.st_size, doc)
    return doc


def is_local(value: str) -> bool:
    """A relative or absolute file path: not a URI, ``azureml:`` reference or expression."""
    return not _SCHEME.match(value) and "${{" not in value


def local_path(base: Path, value: str) -> Path:
    """A local path as the CLI resolves it: relative to the folder of the YAML file that
    names it (azure-ai-ml 1.35.2 azure/ai/ml/entities/_job/job.py:Job._load and
    entities/_component/component.py:Component._load set the base path to
    ``Path(yaml_path).parent``; operations/_job_operations.py:_resolve_job_input uploads
    ``Path(base_path, entry.path).resolve()``). ``file:`` prefixes are allowed."""
    return (base / value.removeprefix("file:")).resolve()
