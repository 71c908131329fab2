"""An Azure ML pipeline job read into the steps the local runner executes.

The spec is loaded and checked by ``mlops.amlspec`` (the same rules ``mlops validate``
runs: the first problem stops here, before anything runs). Pipeline components are then
flattened: their jobs become steps named ``outer/inner``, and each input becomes a
*source*: a literal, a pipeline input (so ``--set`` applies), another step's output, or
a template mixing them. The job types each have one planner in ``PLANNERS``; adding one
(``parallel``, say) is one function and one entry there plus its executor in the runner.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from mlops import settings
from mlops.amlspec import expressions, graph
from mlops.amlspec.catalogue import Catalogue
from mlops.amlspec.expressions import Expr
from mlops.amlspec.loader import Loader
from mlops.amlspec.model import Component, EnvUse, Node, NodeInput, PipelineBody
from mlops.amlspec.ports import PATH_TYPES, OutputSpec
from mlops.amlspec.rules import check_pipeline_job
from mlops.errors import MlopsError
from mlops.local.automl import map_automl_node
from mlops.yamlload import YDict

AUTOML_STAND_IN = Path("components") / "train.yml"


@dataclass(frozen=True)
class TopInput:
    """The value of a top-level pipeline input (after overrides)."""

    name: str


@dataclass(frozen=True)
class StepOutput:
    """The folder (or file) a step writes for one of its outputs."""

    step: str
    output: str


@dataclass(frozen=True)
class Template:
    """A string with expressions inside; each part is resolved, then substituted."""

    text: str
    parts: tuple[tuple[Expr, Any], ...]


@dataclass(frozen=True)
class PipelineInput:
    """A top-level pipeline input: its type and value (local paths already absolute)."""

    name: str
    type: str | None
    value: Any


@dataclass(frozen=True)
class SweepSpec:
    """What a sweep node asks for (see mlops.local.sweep)."""

    search_space: dict[str, dict[str, Any]]
    sampling: str
    seed: int | None
    goal: str
    metric: str
    max_total_trials: int | None
    timeout: float | None
    trial_timeout: float | None


@dataclass
class Step:
    """One unit the runner executes: a command component (a sweep runs it per trial)."""

    name: str
    component: Component
    bindings: dict[str, Any]  # component input -> source (literal, TopInput, StepOutput, Template)
    node: Node
    kind: str = "command"  # command | sweep
    output_aliases: dict[str, str] = field(default_factory=dict)  # visible -> component output
    output_paths: dict[str, str] = field(default_factory=dict)  # output -> path template
    environment_variables: dict[str, str] = field(default_factory=dict)
    automl: bool = False
    sweep: SweepSpec | None = None

    @property
    def environment(self) -> EnvUse | None:
        return self.component.environment

    def output_name(self, visible: str) -> str | None:
        """The component output behind a name other jobs use, or None if there is none."""
        if visible in self.output_aliases:
            return self.output_aliases[visible]
        return visible if visible in self.component.outputs else None

    def dependencies(self) -> list[str]:
        """Steps whose outputs this step consumes, in binding order, without repeats."""
        found: list[str] = []
        for value in self.bindings.values():
            for source in _sources(value):
                if isinstance(source, StepOutput) and source.step not in found:
                    found.append(source.step)
        return found


def _sources(value: Any) -> list[Any]:
    if isinstance(value, Template):
        return [s for _, part in value.parts for s in _sources(part)]
    return [value]


@dataclass
class Pipeline:
    """A loaded pipeline: its inputs and its steps in an order that respects dependencies."""

    path: Path
    experiment_name: str
    inputs: dict[str, PipelineInput]
    steps: list[Step]
    outputs: dict[str, StepOutput] = field(default_factory=dict)
    continue_on_step_failure: bool = False
    catalogue: Catalogue | None = None

    def step(self, name: str) -> Step:
        return next(s for s in self.steps if s.name == name)


def repo_catalogue(path: Path) -> Catalogue:
    """Assets a pipeline can name: specs in its folder and the folder above (recursively,
    unless that is the repository root or above it) and the repository's mlops/azureml."""
    folders = [path.parent, settings.REPO_ROOT / "mlops" / "azureml"]
    above = path.parent.parent
    if above != settings.REPO_ROOT and above not in settings.REPO_ROOT.parents:
        folders.append(above)
    return Catalogue.scan(*folders)


@dataclass
class _Scope:
    """What ``parent.*`` means inside one pipeline body while flattening it."""

    prefix: str
    inputs: dict[str, Any]
    job_outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    job_inputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)  # this body's outputs -> StepOutput
    output_paths: dict[str, str] = field(default_factory=dict)  # this body's output -> path


class _Planner:
    def __init__(
        self,
        path: Path,
        overrides: Mapping[str, Any],
        time_budget: int | None,
        loader: Loader,
    ) -> None:
        self.path = path
        self.overrides = overrides
        self.time_budget = time_budget
        self.loader = loader
        self.steps: dict[str, Step] = {}
        self.top_values: dict[str, Any] = {}

    def source(self, value: Any, scope: _Scope, where: str) -> Any:
        """A job input value as a source, in this scope."""
        if not isinstance(value, str):
            return value
        found = expressions.texts(value)
        if not found:
            return value
        whole = expressions.whole(value)
        if whole is not None:
            return self.expr(whole, scope, where)
        parts = tuple(
            (expr, self.expr(expr, scope, where)) for expr in (expressions.parse(t) for t in found)
        )
        return Template(value, parts)

    def expr(self, expr: Expr, scope: _Scope, where: str) -> Any:
        if expr.scope == "parent" and expr.section == "inputs":
            return scope.inputs.get(expr.name)
        if expr.scope == "job":
            table = scope.job_outputs if expr.section == "outputs" else scope.job_inputs
            return table.get(str(expr.job), {}).get(expr.name)
        raise MlopsError(f"{where}: {expr} cannot be an input value")

    def literal(self, source: Any) -> Any:
        """A source's value at plan time (for AutoML settings, which are not ports)."""
        if isinstance(source, TopInput):
            return self.top_values.get(source.name)
        if isinstance(source, Template):
            return expressions.substitute(
                source.text, lambda e: str(self.literal(dict(source.parts)[e]))
            )
        return source

    def body(self, body: PipelineBody, scope: _Scope) -> None:
        for name in graph.order(body.edges()):
            node = body.jobs[name]
            where = f"{body.path.name}: job '{name}'"
            planner = PLANNERS.get(node.type)
            if planner is None:
                raise MlopsError(f"{where}: job type '{node.type}' cannot run locally")
            planner(self, node, scope, where)
            for out, port in node.outputs.items():
                if port.binding is not None and port.binding.section == "outputs":
                    exported = scope.job_outputs.get(name, {}).get(out)
                    scope.outputs[port.binding.name] = exported
                    path = scope.output_paths.get(port.binding.name)
                    if path and isinstance(exported, StepOutput):
                        self.steps[exported.step].output_paths.setdefault(exported.output, path)

    def inputs_of(self, node: Node, scope: _Scope, where: str) -> dict[str, Any]:
        return {
            n: self.source(port.value, scope, f"{where} input '{n}'")
            for n, port in node.inputs.items()
        }

    def add_step(self, step: Step, scope: _Scope, visible: set[str]) -> None:
        local = step.name.rsplit("/", 1)[-1]
        scope.job_outputs[local] = {out: StepOutput(step.name, out) for out in visible}
        scope.job_inputs[local] = dict(step.bindings)
        for out, port in step.node.outputs.items():
            if port.path and (actual := step.output_name(out)):
                step.output_paths[actual] = port.path
        self.steps[step.name] = step


def _command(planner: _Planner, node: Node, scope: _Scope, where: str) -> None:
    component = _runnable(node, where)
    step = Step(
        scope.prefix + node.name,
        component,
        planner.inputs_of(node, scope, where),
        node,
        environment_variables=dict(node.environment_variables),
    )
    planner.add_step(step, scope, set(component.outputs))


def _runnable(node: Node, where: str) -> Component:
    component = node.component
    if component is None:
        raise MlopsError(
            f"{where}: its component lives only in Azure ML; reference a local file "
            "or a component the repository defines"
        )
    if component.kind != "command":
        raise MlopsError(f"{where}: only command components run here, not '{component.kind}'")
    return component


def _pipeline(planner: _Planner, node: Node, scope: _Scope, where: str) -> None:
    component = node.component
    if component is None or component.body is None:
        raise MlopsError(f"{where}: a pipeline job needs a pipeline component (type: pipeline)")
    given = planner.inputs_of(node, scope, where)
    inner_inputs = {}
    for name, spec in component.inputs.items():
        inner_inputs[name] = given.get(name, spec.default)
    inner = _Scope(scope.prefix + node.name + "/", inner_inputs)
    for out, port in node.outputs.items():
        if port.path:
            inner.output_paths[out] = port.path
    planner.body(component.body, inner)
    scope.job_outputs[node.name] = dict(inner.outputs)
    scope.job_inputs[node.name] = given


def _automl(planner: _Planner, node: Node, scope: _Scope, where: str) -> None:
    settings_ = {k: v for k, v in node.doc.items()}
    training_data = settings_.get("training_data")

    def literal(value: Any, key: str) -> Any:
        if isinstance(value, dict):
            return {k: literal(v, f"{key}.{k}") for k, v in value.items()}
        if isinstance(value, list):
            return [literal(v, key) for v in value]
        return planner.literal(planner.source(value, scope, f"{where} setting '{key}'"))

    settings_ = literal(settings_, "")
    settings_["training_data"] = training_data  # a port: resolved at run time like any input
    stand_in = map_automl_node(settings_, where, planner.time_budget)
    component = planner.loader.component_file(node.path.parent / AUTOML_STAND_IN)
    if component is None:
        raise MlopsError(f"{where}: the local AutoML stand-in {AUTOML_STAND_IN} is missing")
    for visible, actual in stand_in.outputs.items():
        if actual not in component.outputs:
            raise MlopsError(
                f"{where}: stand-in {component.path.name} has no output '{actual}' for '{visible}'"
            )
    bindings = {
        name: planner.source(value, scope, f"{where} input '{name}'")
        for name, value in stand_in.inputs.items()
    }
    for name in bindings:
        if name not in component.inputs:
            raise MlopsError(f"{where}: stand-in {component.path.name} has no input '{name}'")
    step = Step(
        scope.prefix + node.name,
        component,
        bindings,
        node,
        output_aliases=dict(stand_in.outputs),
        automl=True,
    )
    planner.add_step(step, scope, {*component.outputs, *stand_in.outputs})


Planner = Callable[[_Planner, Node, _Scope, str], None]
# Job type -> planner. A job type of its own module (mlops.local.sweep) adds its planner
# here and its executor to mlops.local.runner.EXECUTORS when imported; KIND_MODULES lists
# those modules. Adding `parallel` is one such module and one entry in KIND_MODULES.
PLANNERS: dict[str, Planner] = {
    "command": _command,
    "pipeline": _pipeline,
    "automl": _automl,
}
KIND_MODULES = ("mlops.local.sweep", "mlops.local.parallel")


def _load_kinds() -> None:
    import importlib

    for name in KIND_MODULES:
        importlib.import_module(name)


def _top_inputs(body: PipelineBody, catalogue: Catalogue) -> dict[str, PipelineInput]:
    """Top-level inputs; ``azureml:`` data references already resolved where they can be
    (the run refuses one that cannot, unless ``--data`` replaces it)."""
    from mlops.local import data

    found = {}
    for name, spec in body.inputs.items():
        value = spec.default
        if spec.type in PATH_TYPES and isinstance(value, str) and value.startswith("azureml:"):
            with contextlib.suppress(MlopsError):
                value = data.resolve(value, catalogue, name)
        found[name] = PipelineInput(name, spec.type, value)
    return found


def load_pipeline(
    path: Path,
    time_budget: int | None = None,
    overrides: Mapping[str, Any] | None = None,
    job_sets: Mapping[str, Any] | None = None,
) -> Pipeline:
    """Read a pipeline job YAML, its components and bindings; fail before anything runs.

    ``overrides`` replace pipeline input values here already, so that AutoML settings
    written as ``${{parent.inputs.x}}`` (mapped at load time) see them too. ``job_sets``
    are ``az ml job create --set jobs.<job>.<path>=VALUE`` settings, keyed ``<job>.<path>``
    (see ``set_job_fields``).
    """
    _load_kinds()
    path = Path(path).resolve()
    if not path.is_file():
        raise MlopsError(f"pipeline file not found: {path}")
    catalogue = repo_catalogue(path)
    checked = check_pipeline_job(path, catalogue, settings.REPO_ROOT)
    body = checked.raise_first()
    set_job_fields(body, job_sets or {})
    inputs = _top_inputs(body, catalogue)
    overrides = dict(overrides or {})
    for name, value in overrides.items():
        if name not in inputs:
            known = ", ".join(sorted(inputs)) or "none"
            raise MlopsError(f"{path.name} has no input '{name}' (inputs: {known})")
        inputs[name] = PipelineInput(name, inputs[name].type, value)
    planner = _Planner(path, overrides, time_budget, checked.loader)
    planner.top_values = {n: i.value for n, i in inputs.items()}
    scope = _Scope("", {n: TopInput(n) for n in inputs})
    for name, port in body.outputs.items():
        if port.path:
            scope.output_paths[name] = port.path
    planner.body(body, scope)
    steps = _order(planner.steps)
    pipeline = Pipeline(
        path,
        body.experiment_name,
        inputs,
        steps,
        outputs={k: v for k, v in scope.outputs.items() if isinstance(v, StepOutput)},
        continue_on_step_failure=body.continue_on_step_failure,
        catalogue=catalogue,
    )
    _check_literals(pipeline)
    return pipeline


def set_job_fields(body: PipelineBody, job_sets: Mapping[str, Any]) -> None:
    """Set ``<job>.<dotted path>`` values into the jobs as written, before planning.

    What ``--set jobs.prep_files.mini_batch_size=1`` does to a pipeline job: the ml
    extension hands it to azure-ai-ml as a params_override (azure-cli-extensions
    azext_mlv2/manual/custom/job.py ml_job_create), and azure-ai-ml sets each dotted key
    into the loaded YAML data before its schema reads it (azure/ai/ml/_schema/core/
    schema.py PathAwareSchema.add_param_overrides, pydash.set_). The planners read a job's
    settings from its YAML (``Node.doc``), so setting the value there is the same; an
    input also replaces the parsed ``Node.inputs`` entry. Missing levels are created, as
    pydash does; a job the pipeline lacks is refused by name.
    """
    copied: set[str] = set()
    for key, value in job_sets.items():
        job, _, field_path = str(key).partition(".")
        node = body.jobs.get(job)
        parts = field_path.split(".") if field_path else []
        if node is None or not parts or not all(parts):
            known = ", ".join(sorted(body.jobs)) or "none"
            raise MlopsError(
                f"{body.path.name}: --set jobs.{key}: no job '{job}' with that field "
                f"(jobs: {known})"
            )
        if job not in copied:
            # The parsed YAML is shared through the spec cache (amlspec/files.py read): edit
            # a copy, once per job, so a later load of the same file sees the file.
            node.doc = copy.deepcopy(node.doc)
            node.inputs = dict(node.inputs)
            copied.add(job)
        target: Any = node.doc
        for part in parts[:-1]:
            if not isinstance(target.get(part), dict):
                level = YDict()
                level.line, level.key_lines, level.value_lines = node.line, {}, {}
                target[part] = level
            target = target[part]
        target[parts[-1]] = value
        if len(parts) == 2 and parts[0] == "inputs":
            old = node.inputs.get(parts[1])
            line = old.line if old else node.line
            node.inputs[parts[1]] = (
                replace(old, value=value) if old else NodeInput(parts[1], value, line)
            )


def _order(steps: Mapping[str, Step]) -> list[Step]:
    names = graph.order({n: s.dependencies() for n, s in steps.items()})
    return [steps[n] for n in names]


def _check_literals(pipeline: Pipeline) -> None:
    """Literal values (AutoML settings mapped onto the stand-in included) against the input
    they feed, now, before anything runs."""
    for step in pipeline.steps:
        for name, value in step.bindings.items():
            spec = step.component.inputs.get(name)
            if spec is None or spec.type in PATH_TYPES or value is None:
                continue
            if not isinstance(value, TopInput | StepOutput | Template):
                spec.coerce(value, f"job '{step.name}' input '{name}'")
    check_pipeline_values(pipeline, {n: i.value for n, i in pipeline.inputs.items()})


def check_pipeline_values(pipeline: Pipeline, values: Mapping[str, Any]) -> None:
    """Check pipeline input values against every component input they feed, up front, so
    that a bad ``--set``/``--seed`` stops the run before any step or MLflow run starts."""
    for step in pipeline.steps:
        for input_name, value in step.bindings.items():
            spec = step.component.inputs.get(input_name)
            if spec is None or spec.type in PATH_TYPES or not isinstance(value, TopInput):
                continue
            if values.get(value.name) is not None:
                where = f"pipeline input '{value.name}' (job '{step.name}' input '{input_name}')"
                spec.coerce(values[value.name], where)


def resolve_source(
    value: Any,
    pipeline_values: Mapping[str, Any],
    produced: Mapping[tuple[str, str], Path],
    where: str,
) -> Any:
    """A source's value now: pipeline inputs from ``pipeline_values``, step outputs from
    ``produced`` ((step, output) -> path)."""
    if isinstance(value, TopInput):
        return pipeline_values.get(value.name)
    if isinstance(value, StepOutput):
        return produced.get((value.step, value.output))
    if isinstance(value, Template):
        table = dict(value.parts)

        def part(expr: Expr) -> str:
            resolved = resolve_source(table[expr], pipeline_values, produced, where)
            if resolved is None:
                raise MlopsError(f"{where}: '{expr}' has no value")
            return str(resolved)

        return expressions.substitute(value.text, part)
    return value


def resolve_step_inputs(
    step: Step,
    pipeline_values: Mapping[str, Any],
    produced: Mapping[tuple[str, str], Path],
    resolve_path: Callable[[Any, str], Any] | None = None,
) -> dict[str, Any]:
    """Concrete values of every declared input of a step, checked against its declaration.

    ``resolve_path`` turns an ``azureml:`` data reference into a local path (the runner
    passes the local data assets); unset optional inputs are None.
    """
    resolved: dict[str, Any] = {}
    for name, spec in step.component.inputs.items():
        where = f"job '{step.name}' input '{name}'"
        if name in step.bindings:
            value = resolve_source(step.bindings[name], pipeline_values, produced, where)
        else:
            value = spec.default
        if value is None:
            if not spec.optional:
                raise MlopsError(f"{where}: required, but neither bound nor defaulted")
            resolved[name] = None
            continue
        if spec.type in PATH_TYPES:
            if isinstance(value, str) and value.startswith("azureml:"):
                if resolve_path is None:
                    raise MlopsError(f"{where}: '{value}' exists only in Azure ML")
                value = resolve_path(value, where)
            if not Path(value).exists():
                raise MlopsError(f"{where}: path {value} does not exist")
        resolved[name] = spec.coerce(value, where)
    return resolved


def output_spec(step: Step, name: str) -> OutputSpec:
    return step.component.outputs[name]
