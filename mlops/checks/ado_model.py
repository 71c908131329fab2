"""The Azure DevOps files of a repository and how they include each other.

Everything here reads YAML with every scalar as a string, as Azure DevOps does.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mlops.ado.expand import declared_parameters
from mlops.checks import ado_schema
from mlops.yamlload import YDict, YList, error_line, error_message, load

# Folders (relative to the root) whose YAML files are Azure DevOps pipelines/templates,
# plus the per-environment variable templates at the root.
ADO_GLOBS = (
    "mlops/devops-pipelines/**/*.yml",
    "mlops/devops-pipelines/**/*.yaml",
    "infrastructure/**/pipelines/**/*.yml",
    "infrastructure/**/pipelines/**/*.yaml",
    "config-infra-*.yml",
)

# Where a ``template:`` item sits decides what the template must hold.
_CONTEXT_KIND = {"steps": "steps", "jobs": "jobs", "stages": "stages", "variables": "variables"}


@dataclass
class AdoFile:
    """One Azure DevOps YAML file, parsed."""

    path: Path
    rel: str
    doc: Any
    kind: str | None
    syntax_error: tuple[int, str] | None = None

    @property
    def parameters(self) -> dict[str, YDict]:
        """Declared template/pipeline parameters by name, read as the expander reads them
        (mlops.ado.expand.declared_parameters); a malformed declaration is left out here
        and reported by ado-schema / ado-compile."""
        return declared_parameters(self.doc, self.rel, strict=False)


@dataclass
class TemplateRef:
    """A ``template:`` reference in a file: where it is, what it passes, where it points."""

    source: AdoFile
    node: YDict
    context: str  # steps, jobs, stages, variables, extends
    raw: str
    target: Path | None  # None when it lives in another repository or is an expression

    @property
    def line(self) -> int:
        return self.node.key_line("template")


@dataclass
class AdoProject:
    """All Azure DevOps files found under a root, plus those they include."""

    root: Path
    files: dict[Path, AdoFile] = field(default_factory=dict)

    def rel(self, path: Path) -> str:
        try:
            return path.resolve().relative_to(self.root).as_posix()
        except ValueError:
            return path.as_posix()

    def get(self, path: Path) -> AdoFile | None:
        """The parsed file at ``path`` (loading it on first use), or None if it does not exist."""
        path = path.resolve()
        if path in self.files:
            return self.files[path]
        if not path.is_file():
            return None
        text = path.read_text(encoding="utf-8")
        try:
            doc = load(text, strings=True)
        except yaml.YAMLError as exc:
            problem = (error_line(exc), error_message(exc))
            ado_file = AdoFile(path, self.rel(path), None, None, problem)
        else:
            ado_file = AdoFile(path, self.rel(path), doc, ado_schema.kind_of(doc))
        self.files[path] = ado_file
        return ado_file

    def template_refs(self, ado_file: AdoFile) -> list[TemplateRef]:
        return list(_template_refs(self, ado_file, ado_file.doc, "pipeline"))

    def resolve(self, source: AdoFile, raw: str) -> Path | None:
        """Path of ``template: raw`` as Azure DevOps resolves it, or None if not checkable here."""
        if "${{" in raw or "$(" in raw:
            return None
        path_part, _, repo = raw.partition("@")
        if repo and repo != "self":
            return None
        if path_part.startswith("/"):
            return (self.root / path_part.lstrip("/")).resolve()
        return (source.path.parent / path_part).resolve()


def discover(root: Path) -> AdoProject:
    """Load every Azure DevOps YAML file under the known folders of ``root``."""
    project = AdoProject(root.resolve())
    for pattern in ADO_GLOBS:
        for path in sorted(project.root.glob(pattern)):
            if path.is_file():
                project.get(path)
    return project


def _template_refs(
    project: AdoProject, source: AdoFile, node: Any, context: str
) -> Iterator[TemplateRef]:
    if isinstance(node, YDict):
        raw = node.get("template")
        if isinstance(raw, str) and context in (*_CONTEXT_KIND, "extends"):
            yield TemplateRef(source, node, context, raw, project.resolve(source, raw))
        for key, value in node.items():
            if key == "parameters" and "template" in node:
                # Parameter values may carry steps/jobs with their own template references.
                yield from _template_refs(project, source, value, context)
                continue
            sub = str(key) if str(key) in (*_CONTEXT_KIND, "extends") else context
            if ado_schema.is_expression(key):
                sub = context
            yield from _template_refs(project, source, value, sub)
    elif isinstance(node, YList):
        for item in node:
            yield from _template_refs(project, source, item, context)


def walk_strings(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], str]]:
    """Every string scalar (keys included) with its path of keys and indexes."""
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(key, str):
                yield (*path, key), key
            yield from walk_strings(value, (*path, key))
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from walk_strings(item, (*path, index))
    elif isinstance(node, str):
        yield path, node


def walk_dicts(node: Any) -> Iterator[YDict]:
    if isinstance(node, YDict):
        yield node
        for value in node.values():
            yield from walk_dicts(value)
    elif isinstance(node, YList):
        for item in node:
            yield from walk_dicts(item)


PARAMETER_USE = re.compile(r"\bparameters\s*(?:\.\s*([A-Za-z_][\w-]*)|\[\s*'([^']+)'\s*\])")
EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)
