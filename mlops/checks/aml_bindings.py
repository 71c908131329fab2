"""What azure-ai-ml does not catch offline: bindings, inputs, cycles, keys, paths, references.

Works on the line-tracking YAML of every spec, without azure-ai-ml, so it is fast
and can point at the exact line. A pipeline's jobs are resolved to the component
they run (a local file, an inline component, or a native AutoML node) and every
``${{parent...}}`` expression is checked against what actually exists.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mlops.checks.aml_specs import AmlProject, AmlSpec
from mlops.checks.findings import Finding
from mlops.checks.yamlload import YDict, YList, load

BINDING = "aml-binding"
INPUT = "aml-input"
CYCLE = "aml-cycle"
KEY = "aml-key"
PATH = "aml-path"
REFERENCE = "aml-reference"

_EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
_PARENT = re.compile(
    r"^parent\.(?:(inputs|outputs)\.([\w-]+)|jobs\.([\w-]+)\.(inputs|outputs)\.([\w-]+))$"
)
_OWN = re.compile(r"^(inputs|outputs)\.([\w-]+)$")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")

# Keys a pipeline step may hold, by step type (the azure-ai-ml node schemas; it only warns).
_COMMON_STEP_KEYS = frozenset(
    {
        "type",
        "name",
        "display_name",
        "description",
        "tags",
        "properties",
        "comment",
        "experiment_name",
        "compute",
        "inputs",
        "outputs",
        "identity",
        "queue_settings",
        "resources",
        "services",
        "environment_variables",
    }
)
_STEP_KEYS = {
    "command": _COMMON_STEP_KEYS
    | {"component", "code", "command", "environment", "limits", "distribution"},
    "automl": _COMMON_STEP_KEYS
    | {
        "task",
        "primary_metric",
        "target_column_name",
        "training_data",
        "validation_data",
        "test_data",
        "validation_data_size",
        "test_data_size",
        "n_cross_validations",
        "cv_split_column_names",
        "weight_column_name",
        "limits",
        "training",
        "featurization",
        "log_verbosity",
        "environment_id",
        "positive_label",
        "forecasting",
    },
    "pipeline": _COMMON_STEP_KEYS | {"component", "settings"},
}
# Curated environments: Azure ML's own, resolvable in every workspace by short name.
_CURATED = "AzureML-"
# Expressions Azure ML fills in at run time (output paths).
_RUNTIME_NAMES = {"name", "output_name", "default_datastore"}
# Outputs every native AutoML node produces, whether declared or not.
_AUTOML_OUTPUTS = {"best_model"}


@dataclass
class Interface:
    """Inputs and outputs of what a step runs; ``known`` is False for remote components."""

    inputs: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    known: bool = True
    source: str = "the component"  # named in messages: the file to look at


def is_local(value: str) -> bool:
    """A relative or absolute file path, not a URI, ``azureml:`` reference or expression."""
    return not _SCHEME.match(value) and "${{" not in value


def _names(spec: AmlSpec, key: str) -> dict[str, Any]:
    section = spec.doc.get(key)
    return dict(section) if isinstance(section, YDict) else {}


@dataclass
class Catalogue:
    """Names the repository defines: environments, data assets, models, components."""

    environments: set[str] = field(default_factory=set)
    data: set[str] = field(default_factory=set)
    models: set[str] = field(default_factory=set)
    components: set[str] = field(default_factory=set)

    @classmethod
    def of(cls, project: AmlProject) -> Catalogue:
        catalogue = cls()
        for spec in project.specs.values():
            name = spec.doc.get("name")
            if not isinstance(name, str):
                continue
            if spec.kind == "environment":
                catalogue.environments.add(name)
            elif spec.kind == "data":
                catalogue.data.add(name)
            elif spec.kind == "model":
                catalogue.models.add(name)
            elif spec.kind == "component":
                catalogue.components.add(name)
            # The pipeline registers models under its ``model_name`` input default.
            if spec.kind == "component":
                default = _names(spec, "inputs").get("model_name")
                if isinstance(default, YDict) and isinstance(default.get("default"), str):
                    catalogue.models.add(default["default"])
        return catalogue


def _reference(value: str, kinds: str, known: set[str]) -> str | None:
    """Why an ``azureml:`` reference names nothing the repo defines, or None if it does."""
    if not value.startswith("azureml:"):
        return None
    body = value.removeprefix("azureml:")
    if body.startswith("//registries/") or body.startswith("/"):
        return None  # registry or ARM id: resolved by Azure, not the repo
    name = re.split(r"[@:]", body, maxsplit=1)[0]
    if name in known or (kinds == "environment" and name.startswith(_CURATED)):
        return None
    where = ", ".join(sorted(known)) or "none"
    return (
        f"{kinds} {name!r} is not defined in the repository (defined: {where}) "
        "and is not a registry reference (azureml://registries/...)"
    )


class Linter:
    """Collects findings over one project."""

    def __init__(self, project: AmlProject) -> None:
        self.project = project
        self.catalogue = Catalogue.of(project)
        self.findings: list[Finding] = []

    def add(self, spec: AmlSpec | str, line: int, rule: str, message: str) -> None:
        rel = spec.rel if isinstance(spec, AmlSpec) else spec
        self.findings.append(Finding(rel, line, rule, message))

    # -- paths and references -------------------------------------------------------------

    def path(self, spec: AmlSpec, node: YDict, key: str, base: Path | None = None) -> None:
        value = node.get(key)
        if not isinstance(value, str) or not is_local(value):
            return
        target = ((base or spec.path.parent) / value.removeprefix("file:")).resolve()
        if not target.exists():
            shown = self.project.rel(target)
            self.add(spec, node.key_line(key), PATH, f"{key}: {value!r} does not exist ({shown})")

    def reference(self, spec: AmlSpec, node: YDict, key: str, kinds: str) -> None:
        value = node.get(key)
        if not isinstance(value, str):
            return
        known = {
            "environment": self.catalogue.environments,
            "model": self.catalogue.models,
            "data asset": self.catalogue.data,
            "component": self.catalogue.components,
        }[kinds]
        problem = _reference(value, kinds, known)
        if problem:
            self.add(spec, node.key_line(key), REFERENCE, f"{key}: {problem}")

    def environment(self, spec: AmlSpec, node: YDict, key: str = "environment") -> None:
        value = node.get(key)
        if isinstance(value, YDict):
            self.path(spec, value, "conda_file")
            build = value.get("build")
            if isinstance(build, YDict):
                self.path(spec, build, "path")
        else:
            self.reference(spec, node, key, "environment")

    # -- per kind ---------------------------------------------------------------------------

    def component(self, spec: AmlSpec, doc: YDict) -> None:
        self.path(spec, doc, "code")
        self.environment(spec, doc)
        self.command_bindings(spec, doc)
        if doc.get("type") == "pipeline":
            self.pipeline(spec, doc)

    def command_bindings(self, spec: AmlSpec, doc: YDict) -> None:
        """``${{inputs.x}}``/``${{outputs.y}}`` in a command name declared inputs/outputs."""
        command = doc.get("command")
        if not isinstance(command, str):
            return
        declared = {"inputs": doc.get("inputs") or {}, "outputs": doc.get("outputs") or {}}
        line = doc.value_line("command")
        for expression in _EXPRESSION.findall(command):
            match = _OWN.match(expression)
            if match and match.group(2) not in declared[match.group(1)]:
                section, name = match.groups()
                self.add(
                    spec,
                    line,
                    BINDING,
                    f"command uses ${{{{{expression}}}}} but {section}: declares no {name!r}",
                )

    def environment_spec(self, spec: AmlSpec) -> None:
        self.path(spec, spec.doc, "conda_file")
        build = spec.doc.get("build")
        if isinstance(build, YDict):
            self.path(spec, build, "path")

    def deployment(self, spec: AmlSpec) -> None:
        doc = spec.doc
        code = doc.get("code_configuration")
        if isinstance(code, YDict):
            self.path(spec, code, "code")
            if isinstance(code.get("code"), str) and is_local(code["code"]):
                self.path(spec, code, "scoring_script", spec.path.parent / code["code"])
        model = doc.get("model")
        if isinstance(model, YDict):
            self.path(spec, model, "path")
        else:
            self.reference(spec, doc, "model", "model")
        self.environment(spec, doc)
        if isinstance(doc.get("component"), str):
            self.path(spec, doc, "component")

    def job(self, spec: AmlSpec) -> None:
        doc = spec.doc
        if doc.get("type") == "pipeline" or "jobs" in doc:
            self.pipeline(spec, doc)
        else:
            self.path(spec, doc, "code")
            self.environment(spec, doc)
            self.command_bindings(spec, doc)
        self.input_values(spec, _section(doc, "inputs"))

    def input_values(self, spec: AmlSpec, inputs: YDict) -> None:
        """Literal input paths exist; ``azureml:`` data references name a data asset."""
        for value in inputs.values():
            if isinstance(value, YDict) and isinstance(value.get("path"), str):
                if value["path"].startswith("azureml:"):
                    self.reference(spec, value, "path", "data asset")
                else:
                    self.path(spec, value, "path")

    # -- pipelines ---------------------------------------------------------------------------

    def interface(self, spec: AmlSpec, job: YDict) -> Interface | None:
        """What a step runs: its declared inputs and outputs, or None when it cannot load."""
        step_type = str(job.get("type", "command"))
        if step_type == "automl":
            declared = _section(job, "outputs")
            outputs = {**dict.fromkeys(_AUTOML_OUTPUTS), **declared}
            return Interface({}, outputs, source="the AutoML node")
        ref = job.get("component")
        if isinstance(ref, YDict):
            self.component(spec, ref)
            inline = (_section_dict(ref, "inputs"), _section_dict(ref, "outputs"))
            return Interface(*inline, source="the inline component")
        if not isinstance(ref, str):
            if step_type == "command" and "command" in job:
                own = (_section_dict(job, "inputs"), _section_dict(job, "outputs"))
                return Interface(*own, source="the step")
            return Interface(known=False)
        if ref.startswith("azureml:"):
            self.reference(spec, job, "component", "component")
            return Interface(known=False)
        if not is_local(ref):
            return Interface(known=False)
        target = (spec.path.parent / ref.removeprefix("file:")).resolve()
        component = self.project.specs.get(target)
        if component is not None:
            io = (_names(component, "inputs"), _names(component, "outputs"))
            return Interface(*io, source=component.rel)
        if not target.is_file():
            self.add(
                spec,
                job.key_line("component"),
                PATH,
                f"component: {ref!r} does not exist ({self.project.rel(target)})",
            )
            return None
        try:  # a component file outside mlops/azureml: read its interface directly
            doc = load(target.read_text(encoding="utf-8"))
        except yaml.YAMLError:
            return None
        if not isinstance(doc, YDict):
            return None
        io = (_section_dict(doc, "inputs"), _section_dict(doc, "outputs"))
        return Interface(*io, source=self.project.rel(target))

    def pipeline(self, spec: AmlSpec, doc: YDict) -> None:
        jobs = _section(doc, "jobs")
        parent_inputs = _section(doc, "inputs")
        parent_outputs = _section(doc, "outputs")
        for name, job in jobs.items():
            if not isinstance(job, YDict):
                self.add(spec, jobs.key_line(name), KEY, f"jobs.{name}: a step must be a mapping")
        interfaces = {name: self.interface(spec, job) for name, job in _jobs(jobs)}
        edges: dict[str, set[str]] = {name: set() for name in interfaces}
        for name, job in _jobs(jobs):
            self.step_keys(spec, name, job, jobs.key_line(name))
            interface = interfaces[name]
            for line, where, expression in _expressions(job):
                self.binding(
                    spec, line, name, where, expression, parent_inputs, parent_outputs, interfaces
                )
                match = _PARENT.match(expression)
                if match and match.group(3) in interfaces:
                    edges[name].add(match.group(3))
            if interface is not None and interface.known:
                self.step_io(spec, name, job, interface)
            if "component" not in job:
                self.command_bindings(spec, job)
        self.cycles(spec, jobs, edges)

    def step_keys(self, spec: AmlSpec, name: str, job: YDict, line: int) -> None:
        allowed = _STEP_KEYS.get(str(job.get("type", "command")))
        if allowed is None:
            return
        for key in job:
            if key not in allowed:
                self.add(
                    spec,
                    job.key_line(key),
                    KEY,
                    f"jobs.{name}: unknown key {key!r} for a {job.get('type', 'command')} step "
                    f"(allowed: {', '.join(sorted(allowed))})",
                )

    def binding(
        self,
        spec: AmlSpec,
        line: int,
        job: str,
        where: str,
        expression: str,
        parent_inputs: YDict,
        parent_outputs: YDict,
        interfaces: dict[str, Interface | None],
    ) -> None:
        text = f"jobs.{job}.{where}: ${{{{{expression}}}}}"
        match = _PARENT.match(expression)
        if match is None:
            if expression not in _RUNTIME_NAMES:
                self.add(spec, line, BINDING, f"{text} is not a parent.inputs/outputs/jobs binding")
            return
        section, name, other, other_section, other_name = match.groups()
        if section:
            declared = parent_inputs if section == "inputs" else parent_outputs
            if name not in declared:
                known = ", ".join(sorted(map(str, declared))) or "none"
                self.add(
                    spec,
                    line,
                    BINDING,
                    f"{text}: the pipeline declares no {section[:-1]} {name!r} (has: {known})",
                )
            return
        if other not in interfaces:
            known = ", ".join(sorted(interfaces)) or "none"
            self.add(spec, line, BINDING, f"{text}: there is no job {other!r} (jobs: {known})")
            return
        target = interfaces[other]
        if target is None or not target.known:
            return
        declared_io = target.inputs if other_section == "inputs" else target.outputs
        if other_name not in declared_io:
            known = ", ".join(sorted(map(str, declared_io))) or "none"
            self.add(
                spec,
                line,
                BINDING,
                f"{text}: job {other!r} has no {other_section[:-1]} {other_name!r} "
                f"({target.source} has: {known})",
            )

    def step_io(self, spec: AmlSpec, name: str, job: YDict, interface: Interface) -> None:
        if str(job.get("type", "command")) == "automl":
            return
        inputs = _section(job, "inputs")
        for key in inputs:
            if key not in interface.inputs:
                known = ", ".join(sorted(map(str, interface.inputs))) or "none"
                self.add(
                    spec,
                    inputs.key_line(key),
                    INPUT,
                    f"jobs.{name}.inputs.{key}: {interface.source} declares no input {key!r} "
                    f"(declares: {known})",
                )
            else:
                self.literal_fits(spec, name, inputs, key, interface.inputs[key])
        for key, declared in interface.inputs.items():
            required = not (
                isinstance(declared, dict)
                and ("default" in declared or str(declared.get("optional")).lower() == "true")
            )
            if required and key not in inputs:
                self.add(
                    spec,
                    job.key_line("inputs") if "inputs" in job else job.line,
                    INPUT,
                    f"jobs.{name}: required input {key!r} of {interface.source} is not bound",
                )
        outputs = _section(job, "outputs")
        for key in outputs:
            if key not in interface.outputs:
                known = ", ".join(sorted(map(str, interface.outputs))) or "none"
                self.add(
                    spec,
                    outputs.key_line(key),
                    INPUT,
                    f"jobs.{name}.outputs.{key}: {interface.source} declares no output {key!r} "
                    f"(declares: {known})",
                )

    def literal_fits(self, spec: AmlSpec, job: str, inputs: YDict, key: str, declared: Any) -> None:
        """A literal value given to an input with ``enum:`` is one of its values."""
        value = inputs[key]
        if not isinstance(declared, dict) or isinstance(value, dict | list):
            return
        if isinstance(value, str) and "${{" in value:
            return
        allowed = declared.get("enum")
        if isinstance(allowed, list) and str(value) not in {str(v) for v in allowed}:
            self.add(
                spec,
                inputs.key_line(key),
                INPUT,
                f"jobs.{job}.inputs.{key}: {value!r} is not one of {', '.join(map(str, allowed))}",
            )

    def cycles(self, spec: AmlSpec, jobs: YDict, edges: dict[str, set[str]]) -> None:
        state: dict[str, int] = {}  # 1 = on the current path, 2 = done
        reported: set[frozenset[str]] = set()

        def visit(node: str, trail: list[str]) -> None:
            state[node] = 1
            for nxt in sorted(edges.get(node, ())):
                if state.get(nxt) == 1:
                    loop = [*trail[trail.index(nxt) :], nxt]
                    if frozenset(loop) not in reported:
                        reported.add(frozenset(loop))
                        self.add(
                            spec,
                            jobs.key_line(nxt),
                            CYCLE,
                            f"jobs form a dependency cycle: {' -> '.join(loop)}",
                        )
                elif nxt not in state:
                    visit(nxt, [*trail, nxt])
            state[node] = 2

        for name in sorted(edges):
            if name not in state:
                visit(name, [name])


def _section(node: YDict, key: str) -> YDict:
    value = node.get(key)
    return value if isinstance(value, YDict) else YDict()


def _section_dict(node: YDict, key: str) -> dict[str, Any]:
    return dict(_section(node, key))


def _jobs(jobs: YDict) -> Iterator[tuple[str, YDict]]:
    for name, job in jobs.items():
        if isinstance(job, YDict):
            yield str(name), job


def _expressions(job: YDict) -> Iterator[tuple[int, str, str]]:
    """(line, where, expression) of every ``${{...}}`` in a step, outside inline components."""

    def walk(node: Any, where: str, line: int) -> Iterator[tuple[int, str, str]]:
        if isinstance(node, YDict):
            for key, value in node.items():
                if (key == "component" and isinstance(value, YDict)) or key == "command":
                    continue  # checked against the step's own inputs and outputs
                sub = f"{where}.{key}" if where else str(key)
                yield from walk(value, sub, node.key_line(key))
        elif isinstance(node, YList):
            for index, item in enumerate(node):
                yield from walk(item, f"{where}[{index}]", node.item_line(index))
        elif isinstance(node, str):
            for expression in _EXPRESSION.findall(node):
                yield line, where, expression

    yield from walk(job, "", job.line)


def check(project: AmlProject) -> list[Finding]:
    """Binding, input, cycle, key, path and reference findings of every spec."""
    linter = Linter(project)
    for spec in sorted(project.specs.values(), key=lambda s: s.rel):
        if spec.kind == "component":
            linter.component(spec, spec.doc)
        elif spec.kind == "job":
            linter.job(spec)
        elif spec.kind == "environment":
            linter.environment_spec(spec)
        elif spec.kind in ("data", "model"):
            linter.path(spec, spec.doc, "path")
        elif spec.kind.endswith("deployment"):
            linter.deployment(spec)
    return linter.findings
