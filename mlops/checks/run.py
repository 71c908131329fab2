"""Every offline check over one repository root, filtered to the paths asked for."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from mlops.checks import ado, aml_bindings, aml_load, config_keys, config_values
from mlops.checks.aml_specs import RULE, discover
from mlops.checks.findings import Finding, sort_unique
from mlops.errors import MlopsError


def _wanted(rel: str, prefixes: list[str]) -> bool:
    return not prefixes or any(rel == p or rel.startswith(p.rstrip("/") + "/") for p in prefixes)


def _prefixes(root: Path, paths: Iterable[Path]) -> list[str]:
    """Repository-relative forms of the paths asked for; each must exist under the root."""
    prefixes = []
    for path in paths:
        full = (path if path.is_absolute() else Path.cwd() / path).resolve()
        if not full.exists():
            raise MlopsError(f"{path}: no such file or folder")
        try:
            rel = full.relative_to(root).as_posix()
        except ValueError as exc:
            raise MlopsError(f"{path}: not inside the repository root {root}") from exc
        if rel == ".":
            return []  # the root itself: everything
        prefixes.append(rel)
    return prefixes


def validate(root: Path, paths: Iterable[Path] = (), *, parallel: bool = False) -> list[Finding]:
    """All findings (sorted, unique) of the repository at ``root``, limited to ``paths``.

    The whole repository is always analysed, because a file is judged by what it
    includes and what includes it; only the findings are filtered. ``parallel``
    loads the Azure ML specs in a child process (worth it for one run from the
    command line; in-process keeps azure-ai-ml imported once for repeated calls).
    """
    root = root.resolve()
    if not root.is_dir():
        raise MlopsError(f"{root}: not a folder")
    prefixes = _prefixes(root, paths)
    project = discover(root)
    findings = list(project.findings)
    findings += aml_bindings.check(project)
    load_specs = any(_wanted(spec.rel, prefixes) for spec in project.specs.values())
    child = aml_load.start(root) if load_specs and parallel else None
    if load_specs and child is None:
        findings += aml_load.check(project)
    try:
        findings += ado.check(root, lambda rel: _wanted(rel, prefixes))
        if child is not None:
            findings += aml_load.collect(child)
    finally:
        if child is not None and child.poll() is None:  # only when something above failed
            child.kill()
            child.wait()
    findings += config_keys.check(root)
    findings += config_values.check(root)
    findings = _without_echoes(findings)
    return sort_unique(f for f in findings if _wanted(f.path, prefixes))


def _without_echoes(findings: list[Finding]) -> list[Finding]:
    """Drop azure-ai-ml's finding where the binding linter said the same, more precisely."""
    linted = {(f.path, f.line) for f in findings if f.rule.startswith("aml-") and f.rule != RULE}
    return [f for f in findings if f.rule != RULE or (f.path, f.line) not in linted]
