"""The Azure ML specs of a repository: found, parsed with lines, and told apart by kind."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mlops.amlspec.kinds import SCHEMA_KINDS, kind_of
from mlops.checks.findings import Finding
from mlops.yamlload import YDict, error_line, error_message, load

RULE = "aml-schema"
SPEC_GLOBS = ("mlops/azureml/**/*.yml", "mlops/azureml/**/*.yaml")

KINDS = frozenset(SCHEMA_KINDS.values())
__all__ = ["KINDS", "RULE", "AmlProject", "AmlSpec", "discover", "kind_of"]


@dataclass
class AmlSpec:
    """One Azure ML YAML spec; ``doc`` keeps YAML 1.1 scalar types, as azure-ai-ml reads them."""

    path: Path
    rel: str
    doc: YDict
    kind: str


@dataclass
class AmlProject:
    """Every spec under ``mlops/azureml`` plus what loading them found wrong."""

    root: Path
    specs: dict[Path, AmlSpec] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)

    def rel(self, path: Path) -> str:
        try:
            return path.resolve().relative_to(self.root).as_posix()
        except ValueError:
            return path.as_posix()

    def of_kind(self, *kinds: str) -> list[AmlSpec]:
        return [s for s in self.specs.values() if s.kind in kinds]


def discover(root: Path) -> AmlProject:
    """Parse every spec; unreadable or unrecognisable files become findings."""
    project = AmlProject(root.resolve())
    for pattern in SPEC_GLOBS:
        for path in sorted(project.root.glob(pattern)):
            if not path.is_file() or path.resolve() in project.specs:
                continue
            rel = project.rel(path)
            try:
                doc: Any = load(path.read_text(encoding="utf-8"))
            except yaml.YAMLError as exc:
                message = f"YAML: {error_message(exc)}"
                project.findings.append(Finding(rel, error_line(exc), RULE, message))
                continue
            if not isinstance(doc, YDict):
                project.findings.append(Finding(rel, 1, RULE, "not a YAML mapping"))
                continue
            if "dependencies" in doc and "$schema" not in doc:
                continue  # a conda file that specs point at, not a spec
            kind = kind_of(path, doc)
            if kind is None:
                project.findings.append(
                    Finding(
                        rel,
                        1,
                        RULE,
                        "cannot tell which Azure ML spec this is; add a $schema line "
                        "(https://azuremlschemas.azureedge.net/latest/<kind>.schema.json)",
                    )
                )
                continue
            project.specs[path.resolve()] = AmlSpec(path.resolve(), rel, doc, kind)
    return project
