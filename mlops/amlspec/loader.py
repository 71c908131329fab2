"""Build the model from YAML files. Loading never stops at a problem: each one is recorded
(file, line, rule, message) so the validator can list them all and the runner can raise
the first. Every local path is resolved against the YAML file that names it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlops.amlspec import problems as rules
from mlops.amlspec.catalogue import Catalogue
from mlops.amlspec.expressions import ExpressionError, whole
from mlops.amlspec.files import SpecFile, YDict, is_local, local_path, read
from mlops.amlspec.model import (
    Component,
    EnvironmentSpec,
    EnvUse,
    Node,
    NodeInput,
    NodeOutput,
    PipelineBody,
)
from mlops.amlspec.ports import LITERAL_TYPES, PATH_TYPES, InputSpec, OutputSpec, literal_type
from mlops.amlspec.references import asset_ref, is_curated


def _section(node: YDict, key: str) -> YDict:
    value = node.get(key)
    return value if isinstance(value, YDict) else YDict()


def _number(raw: YDict, key: str) -> float | None:
    try:
        return float(raw[key]) if key in raw and raw[key] is not None else None
    except (TypeError, ValueError):
        return None


class Loader:
    """Loads specs against one catalogue; remembers components it has read."""

    def __init__(self, catalogue: Catalogue, root: Path | None = None) -> None:
        self.catalogue = catalogue
        self.root = root
        self.problems = rules.Problems()
        self._components: dict[Path, Component | None] = {}
        self._loading: list[Path] = []

    def files(self) -> set[Path]:
        """Component files read so far (what a pipeline uses, at any depth)."""
        return set(self._components)

    def shown(self, path: Path) -> str:
        """A path as messages show it: relative to the root when inside it."""
        if self.root is not None:
            try:
                return path.relative_to(self.root).as_posix()
            except ValueError:
                pass
        return str(path)

    def add(self, path: Path, line: int, rule: str, message: str) -> None:
        self.problems.add(path, line, rule, message)

    # -- paths, references, environments ------------------------------------------------

    def existing(self, path: Path, node: YDict, key: str, base: Path | None = None) -> Path | None:
        """The local path ``node[key]`` names, resolved against ``path``'s folder (or
        ``base``); a PATH problem when it does not exist. None for non-local values."""
        value = node.get(key)
        if not isinstance(value, str) or not is_local(value):
            return None
        target = local_path(base or path.parent, value)
        if not target.exists():
            self.add(
                path,
                node.key_line(key),
                rules.PATH,
                f"{key}: {value!r} does not exist ({self.shown(target)})",
            )
        return target

    def reference(self, path: Path, node: YDict, key: str, kind: str) -> None:
        """A REFERENCE problem when ``azureml:NAME`` names nothing the repository defines."""
        value = node.get(key)
        ref = asset_ref(value) if isinstance(value, str) else None
        if ref is None or ref.registry is not None:
            return
        if kind == "environment" and is_curated(ref):
            return
        known = self.catalogue.names(kind)
        if ref.name in known:
            return
        label = "data asset" if kind == "data" else kind
        self.add(
            path,
            node.key_line(key),
            rules.REFERENCE,
            f"{key}: {label} {ref.name!r} is not defined in the repository (defined: "
            f"{', '.join(sorted(known)) or 'none'}) and is not a registry reference "
            "(azureml://registries/...)",
        )

    def environment_spec(self, path: Path, doc: YDict, line: int) -> EnvironmentSpec:
        build = doc.get("build")
        version = doc.get("version")
        return EnvironmentSpec(
            path=path,
            line=line,
            name=doc.get("name") if isinstance(doc.get("name"), str) else None,
            version=None if version is None else str(version),
            image=doc.get("image") if isinstance(doc.get("image"), str) else None,
            conda_file=self.existing(path, doc, "conda_file"),
            build=self.existing(path, build, "path") if isinstance(build, YDict) else None,
        )

    def environment(self, path: Path, node: YDict) -> EnvUse | None:
        value = node.get("environment")
        line = node.key_line("environment")
        if isinstance(value, YDict):
            return EnvUse(line, spec=self.environment_spec(path, value, value.line))
        if not isinstance(value, str):
            return None
        self.reference(path, node, "environment", "environment")
        ref = asset_ref(value)
        entry = self.catalogue.find("environment", ref) if ref else None
        spec = None
        if entry is not None:
            spec = self.environment_spec(entry.path, entry.doc, entry.doc.line)
        return EnvUse(line, text=value, ref=ref, spec=spec)

    # -- components ---------------------------------------------------------------------

    def input_spec(self, path: Path, name: str, raw: Any, line: int) -> InputSpec:
        if not isinstance(raw, YDict):
            kind = literal_type(raw) if raw is not None else "string"
            return InputSpec(name, kind, default=raw, line=line)
        kind = str(raw.get("type", "string"))
        if kind not in PATH_TYPES | LITERAL_TYPES:
            self.add(path, line, rules.INPUT, f"inputs.{name}: unsupported type {kind!r}")
        default = raw.get("default")
        if kind in PATH_TYPES and default is not None:
            # Azure ML refuses it: azure-ai-ml 1.35.2 azure/ai/ml/entities/_inputs_outputs/
            # input.py:Input._update_default ("Non-primitive type Input has no default value").
            self.add(
                path,
                raw.key_line("default"),
                rules.INPUT,
                f"inputs.{name}: a {kind} input cannot have a default (only literal types can)",
            )
            default = None
        enum = raw.get("enum")
        return InputSpec(
            name=name,
            type=kind,
            default=default,
            optional=str(raw.get("optional", False)).lower() == "true",
            min=_number(raw, "min"),
            max=_number(raw, "max"),
            enum=tuple(str(v) for v in enum) if isinstance(enum, list) else None,
            mode=raw.get("mode") if isinstance(raw.get("mode"), str) else None,
            line=line,
        )

    def output_spec(self, name: str, raw: Any, line: int) -> OutputSpec:
        if not isinstance(raw, YDict):
            return OutputSpec(name, line=line)
        return OutputSpec(
            name,
            type=str(raw.get("type", "uri_folder")),
            mode=raw.get("mode") if isinstance(raw.get("mode"), str) else None,
            path=raw.get("path") if isinstance(raw.get("path"), str) else None,
            line=line,
        )

    def component_file(self, path: Path) -> Component | None:
        """A component spec file (command or pipeline), read once."""
        path = path.resolve()
        if path in self._components:
            return self._components[path]
        if path in self._loading:
            loop = " -> ".join(p.name for p in [*self._loading[self._loading.index(path) :], path])
            self.add(path, 1, rules.CYCLE, f"pipeline components include each other: {loop}")
            return None
        doc = read(path)
        if isinstance(doc, SpecFile):
            if doc.message != "file not found":
                self.add(path, doc.line, rules.PATH, doc.message)
            self._components[path] = None
            return None
        self._loading.append(path)
        try:
            component = self.component(path, doc, inline=False)
        finally:
            self._loading.pop()
        self._components[path] = component
        return component

    def component(self, path: Path, doc: YDict, inline: bool) -> Component:
        """A component from its mapping (``path`` is the file it is written in)."""
        kind = str(doc.get("type", "command"))
        inputs = _section(doc, "inputs")
        outputs = _section(doc, "outputs")
        version = doc.get("version")
        component = Component(
            path=path,
            line=doc.line,
            kind=kind,
            name=str(doc.get("name") or (f"{path.stem}-inline" if inline else path.stem)),
            version=None if version is None else str(version),
            inputs={n: self.input_spec(path, n, v, inputs.key_line(n)) for n, v in inputs.items()},
            outputs={n: self.output_spec(n, v, outputs.key_line(n)) for n, v in outputs.items()},
            command=doc.get("command") if isinstance(doc.get("command"), str) else None,
            command_line=doc.value_line("command"),
            code=self.existing(path, doc, "code"),
            environment=self.environment(path, doc),
            is_deterministic=str(doc.get("is_deterministic", True)).lower() != "false",
            inline=inline,
            doc=doc,
        )
        if kind == "pipeline":
            component.body = self.body(path, doc, is_job=False)
        return component

    def step_component(self, path: Path, job: YDict, key: str) -> tuple[Component | None, bool]:
        """What a job's ``component:`` (or a sweep's ``trial:``) names, and whether its
        interface is known (False for components that live only in Azure)."""
        ref = job.get(key)
        if isinstance(ref, YDict):
            return self.component(path, ref, inline=True), True
        if not isinstance(ref, str):
            return None, False
        azure = asset_ref(ref)
        if azure is not None:
            self.reference(path, job, key, "component")
            entry = self.catalogue.find("component", azure) if azure.registry is None else None
            return (self.component_file(entry.path), True) if entry else (None, False)
        if not is_local(ref):
            return None, False
        target = local_path(path.parent, ref)
        if not target.is_file():
            self.add(
                path,
                job.key_line(key),
                rules.PATH,
                f"{key}: {ref!r} does not exist ({self.shown(target)})",
            )
            return None, True
        return self.component_file(target), True

    # -- pipelines ----------------------------------------------------------------------

    def path_value(self, path: Path, value: Any) -> Any:
        """A local path becomes an absolute Path (against ``path``'s folder)."""
        if isinstance(value, str) and is_local(value):
            return local_path(path.parent, value)
        return value

    def input_value(self, path: Path, raw: YDict) -> Any:
        """An input mapping's value: its ``path`` (resolved, checked to exist, its data
        reference recorded) or else its ``value``/``default``."""
        if "path" not in raw:
            return raw.get("value", raw.get("default"))
        value = self.path_value(path, raw["path"])
        if isinstance(value, Path) and not value.exists():
            self.add(
                path,
                raw.key_line("path"),
                rules.PATH,
                f"path: {raw['path']!r} does not exist ({self.shown(value)})",
            )
        self.reference(path, raw, "path", "data")
        return value

    def job_input(self, path: Path, name: str, raw: Any, line: int) -> InputSpec:
        """A pipeline job's own input: its value (``default``) and type."""
        if not isinstance(raw, YDict):
            kind = literal_type(raw) if raw is not None else "string"
            return InputSpec(name, kind, default=raw, line=line)
        value = self.input_value(path, raw)
        kind = str(raw.get("type") or (literal_type(value) if value is not None else "string"))
        mode = raw.get("mode") if isinstance(raw.get("mode"), str) else None
        return InputSpec(name, kind, default=value, mode=mode, line=line)

    def body(self, path: Path, doc: YDict, is_job: bool) -> PipelineBody:
        inputs = _section(doc, "inputs")
        outputs = _section(doc, "outputs")
        jobs = _section(doc, "jobs")
        read_input = self.job_input if is_job else self.input_spec
        body = PipelineBody(
            path=path,
            line=doc.line,
            doc=doc,
            is_job=is_job,
            inputs={n: read_input(path, n, v, inputs.key_line(n)) for n, v in inputs.items()},
            outputs={n: self.output_spec(n, v, outputs.key_line(n)) for n, v in outputs.items()},
            settings=_section(doc, "settings"),
        )
        for name, job in jobs.items():
            if not isinstance(job, YDict):
                self.add(
                    path, jobs.key_line(name), rules.KEY, f"jobs.{name}: a step must be a mapping"
                )
                continue
            body.jobs[str(name)] = self.node(path, str(name), job)
        return body

    def node(self, path: Path, name: str, job: YDict) -> Node:
        kind = str(job.get("type", "command"))
        node = Node(name, kind, path, job.key_line("type") if "type" in job else job.line, job)
        key = "trial" if kind == "sweep" else "component"
        if kind == "automl":
            node.component, node.known = None, True
        elif key in job:
            node.component, node.known = self.step_component(path, job, key)
        elif kind == "command" and "command" in job:
            node.component, node.known = self.component(path, job, inline=True), True
            # A job-level command declares its inputs by giving them values.
            node.component.inputs = {
                n: InputSpec(n, i.type or "string", optional=True, line=i.line)
                for n, i in self.node_inputs(path, job).items()
            }
        else:
            node.known = False
        node.inputs = self.node_inputs(path, job)
        outputs = _section(job, "outputs")
        for out, raw in outputs.items():
            node.outputs[str(out)] = self._node_output(str(out), raw, outputs.key_line(out))
        env = _section(job, "environment_variables")
        node.environment_variables = {str(k): str(v) for k, v in env.items()}
        return node

    def node_inputs(self, path: Path, job: YDict) -> dict[str, NodeInput]:
        inputs = _section(job, "inputs")
        found: dict[str, NodeInput] = {}
        for name, raw in inputs.items():
            line = inputs.key_line(name)
            if isinstance(raw, YDict):
                value = self.input_value(path, raw)
                kind = raw.get("type") if isinstance(raw.get("type"), str) else None
                mode = raw.get("mode") if isinstance(raw.get("mode"), str) else None
                found[str(name)] = NodeInput(str(name), value, line, kind, mode)
            else:
                found[str(name)] = NodeInput(str(name), raw, line)
        return found

    def _node_output(self, name: str, raw: Any, line: int) -> NodeOutput:
        if isinstance(raw, YDict):
            path = raw.get("path") if isinstance(raw.get("path"), str) else None
            binding = None
            if path is not None:
                try:
                    binding = whole(path)
                except ExpressionError:
                    binding = None
                if binding is not None and binding.scope == "parent":
                    path = None
                else:
                    binding = None
            return NodeOutput(
                name,
                line,
                binding=binding,
                type=raw.get("type") if isinstance(raw.get("type"), str) else None,
                mode=raw.get("mode") if isinstance(raw.get("mode"), str) else None,
                path=path,
            )
        try:
            binding = whole(raw)
        except ExpressionError:
            binding = None
        return NodeOutput(name, line, binding=binding)

    def pipeline_job(self, path: Path) -> PipelineBody | None:
        """A pipeline job spec file; None (with a problem) when it is not one."""
        path = path.resolve()
        doc = read(path)
        if isinstance(doc, SpecFile):
            self.add(path, doc.line, rules.PATH, doc.message)
            return None
        return self.body(path, doc, is_job=True)
