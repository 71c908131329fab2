"""The model: components (command and pipeline), pipeline bodies, their jobs (nodes), and
environment references. Built by ``loader``; read by ``rules`` and by the local runner."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlops.amlspec import expressions
from mlops.amlspec.expressions import Expr, ExpressionError
from mlops.amlspec.files import YDict, YList
from mlops.amlspec.ports import InputSpec, OutputSpec
from mlops.amlspec.references import AssetRef

# Outputs every native AutoML node produces, whether declared or not.
AUTOML_OUTPUTS = ("best_model",)


@dataclass(frozen=True)
class EnvironmentSpec:
    """An environment: a spec file of its own, or inline in a component or job."""

    path: Path  # the file that defines it
    line: int
    name: str | None = None
    version: str | None = None
    image: str | None = None
    conda_file: Path | None = None
    build: Path | None = None

    @property
    def label(self) -> str:
        if self.name is None:
            return f"the inline environment of {self.path.name}"
        return f"{self.name}:{self.version}" if self.version else self.name


@dataclass(frozen=True)
class EnvUse:
    """What a component names as its environment: a reference (``text``) and/or a spec."""

    line: int
    text: str | None = None
    ref: AssetRef | None = None
    spec: EnvironmentSpec | None = None

    @property
    def label(self) -> str:
        return self.text if self.text is not None else (self.spec.label if self.spec else "?")


@dataclass
class Component:
    """A command or pipeline component (a file, or inline in a job)."""

    path: Path  # the file it is written in
    line: int
    kind: str  # command | pipeline | <other component type>
    name: str
    version: str | None = None
    inputs: dict[str, InputSpec] = field(default_factory=dict)
    outputs: dict[str, OutputSpec] = field(default_factory=dict)
    command: str | None = None
    command_line: int = 1
    code: Path | None = None
    environment: EnvUse | None = None
    is_deterministic: bool = True
    body: PipelineBody | None = None
    inline: bool = False
    doc: YDict = field(default_factory=YDict)

    @property
    def source(self) -> str:
        """How messages name it."""
        return f"the inline component in {self.path.name}" if self.inline else self.path.name


@dataclass(frozen=True)
class NodeInput:
    """A job's input as written: a literal, an expression string, or a local path (Path)."""

    name: str
    value: Any
    line: int
    type: str | None = None
    mode: str | None = None


@dataclass(frozen=True)
class NodeOutput:
    """A job's output: bound to a pipeline output, and/or given a type, mode or path."""

    name: str
    line: int
    binding: Expr | None = None
    type: str | None = None
    mode: str | None = None
    path: str | None = None


@dataclass
class Node:
    """One job of a pipeline."""

    name: str
    type: str
    path: Path
    line: int
    doc: YDict
    inputs: dict[str, NodeInput] = field(default_factory=dict)
    outputs: dict[str, NodeOutput] = field(default_factory=dict)
    component: Component | None = None  # the trial for sweep nodes; None for AutoML
    known: bool = True  # False when what it runs lives only in Azure (interface unknown)
    environment_variables: dict[str, str] = field(default_factory=dict)

    def output_names(self) -> set[str]:
        """Outputs other jobs may read."""
        if self.type == "automl":
            return {*AUTOML_OUTPUTS, *self.outputs}
        return set(self.component.outputs) if self.component else set(self.outputs)

    def input_names(self) -> set[str]:
        if self.component is not None and self.type != "automl":
            return set(self.component.inputs)
        return set(self.inputs)

    def expressions(self) -> Iterator[tuple[int, str, Expr | ExpressionError]]:
        """(line, where, expression) of every ``${{...}}`` in the job, outside inline
        components, sweep trials and commands (those use their own inputs/outputs)."""
        yield from _walk(self.doc, "", self.doc.line)

    def dependencies(self) -> list[str]:
        """Sibling jobs whose ports this job reads, in the order written, without repeats."""
        jobs: list[str] = []
        for _, _, expr in self.expressions():
            if isinstance(expr, Expr) and expr.scope == "job" and expr.job not in jobs:
                jobs.append(str(expr.job))
        return jobs


def _walk(node: Any, where: str, line: int) -> Iterator[tuple[int, str, Expr | ExpressionError]]:
    if isinstance(node, YDict):
        for key, value in node.items():
            if (key in ("component", "trial") and isinstance(value, YDict)) or key == "command":
                continue
            sub = f"{where}.{key}" if where else str(key)
            yield from _walk(value, sub, node.key_line(key))
    elif isinstance(node, YList):
        for index, item in enumerate(node):
            yield from _walk(item, f"{where}[{index}]", node.item_line(index))
    elif isinstance(node, str):
        for expr in expressions.find(node):
            yield line, where, expr


@dataclass
class PipelineBody:
    """The inside of a pipeline job or pipeline component: ports, settings and jobs.

    For a pipeline job, each input's ``default`` is its value (local paths resolved)."""

    path: Path
    line: int
    doc: YDict
    is_job: bool
    inputs: dict[str, InputSpec] = field(default_factory=dict)
    outputs: dict[str, OutputSpec] = field(default_factory=dict)
    jobs: dict[str, Node] = field(default_factory=dict)
    settings: YDict = field(default_factory=YDict)

    @property
    def experiment_name(self) -> str:
        for key in ("experiment_name", "display_name"):
            if isinstance(self.doc.get(key), str):
                return str(self.doc[key])
        return self.path.stem

    @property
    def continue_on_step_failure(self) -> bool:
        return str(self.settings.get("continue_on_step_failure", False)).lower() == "true"

    def edges(self) -> dict[str, list[str]]:
        """Job -> the sibling jobs it reads from (only jobs that exist)."""
        return {n: [d for d in j.dependencies() if d in self.jobs] for n, j in self.jobs.items()}
