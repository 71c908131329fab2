"""An Azure ML pipeline job YAML read into steps in dependency order, with bindings resolved.

Nothing here knows about taxis: any pipeline made of command components (referenced by
file) and AutoML regression nodes loads the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mlops.errors import MlopsError
from mlops.local.automl import map_automl_node
from mlops.local.bindings import (
    Binding,
    JobOutput,
    ParentInput,
    ParentOutput,
    embedded_bindings,
    interpolate,
    whole_binding,
)
from mlops.local.component import PATH_TYPES, Component, load_component

AUTOML_STAND_IN = Path("components") / "train.yml"
DATA_ASSET_TYPES = frozenset({"uri_folder", "uri_file", "mltable"})


@dataclass(frozen=True)
class PipelineInput:
    """A pipeline-level input: a literal, or a path (local, or ``azureml:`` only on Azure)."""

    name: str
    type: str | None
    value: Any


@dataclass
class Step:
    """One job of the pipeline, bound to the component that runs it."""

    name: str
    component: Component
    bindings: dict[str, Any]  # component input -> literal or binding expression string
    output_aliases: dict[str, str] = field(default_factory=dict)  # visible name -> component output
    environment_variables: dict[str, str] = field(default_factory=dict)
    automl: bool = False

    def output_name(self, visible: str) -> str | None:
        """The component output behind a name other jobs use, or None if there is none."""
        if visible in self.output_aliases:
            return self.output_aliases[visible]
        return visible if visible in self.component.outputs else None

    def dependencies(self) -> list[str]:
        """Jobs whose outputs this step consumes, in binding order, without repeats."""
        jobs: list[str] = []
        for value in self.bindings.values():
            for binding in embedded_bindings(value, self.name):
                if isinstance(binding, JobOutput) and binding.job not in jobs:
                    jobs.append(binding.job)
        return jobs


@dataclass
class Pipeline:
    """A loaded pipeline: its inputs and its steps in an order that respects dependencies."""

    path: Path
    experiment_name: str
    inputs: dict[str, PipelineInput]
    steps: list[Step]

    def step(self, name: str) -> Step:
        return next(s for s in self.steps if s.name == name)


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise MlopsError(f"pipeline file not found: {path}")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise MlopsError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(raw, dict) or raw.get("type") != "pipeline":
        raise MlopsError(f"{path}: not a pipeline job (expected 'type: pipeline')")
    if not isinstance(raw.get("jobs"), dict) or not raw["jobs"]:
        raise MlopsError(f"{path}: the pipeline has no jobs")
    return raw


def local_data_assets(folder: Path) -> dict[str, Path]:
    """Data asset specs (``type: uri_folder|uri_file|mltable`` with a local ``path``) found
    next to the pipeline, by asset name: the local stand-ins for ``azureml:<name>`` inputs."""
    assets: dict[str, Path] = {}
    for spec in sorted(folder.glob("*.y*ml")):
        try:
            raw = yaml.safe_load(spec.read_text())
        except yaml.YAMLError:
            continue  # not a data asset; the loader of that file reports it
        if (
            isinstance(raw, dict)
            and raw.get("type") in DATA_ASSET_TYPES
            and isinstance(raw.get("name"), str)
            and isinstance(raw.get("path"), str)
            and "://" not in raw["path"]
            and not raw["path"].startswith("azureml:")
        ):
            assets[raw["name"]] = (spec.parent / raw["path"]).resolve()
    return assets


def _asset_name(reference: str) -> str:
    """``azureml:name@latest`` or ``azureml:name:3`` -> ``name``."""
    body = reference.removeprefix("azureml:")
    return body.split("@", 1)[0].split(":", 1)[0]


def _pipeline_input(name: str, raw: Any, base: Path, assets: Mapping[str, Path]) -> PipelineInput:
    if not isinstance(raw, dict):
        return PipelineInput(name, None, raw)
    kind = raw.get("type")
    if "path" in raw:
        text = str(raw["path"])
        if text.startswith("azureml:"):
            value: Any = assets.get(_asset_name(text), text)
        else:
            value = (base / text).resolve()
        return PipelineInput(name, kind, value)
    return PipelineInput(name, kind, raw.get("value", raw.get("default")))


def _unwrap(value: Any) -> Any:
    """Job inputs may be written as ``{path: ...}`` or ``{value: ...}``; keep the payload."""
    if isinstance(value, dict):
        for key in ("path", "value", "default"):
            if key in value:
                return value[key]
    return value


def _resolve_parent_literals(value: Any, inputs: Mapping[str, PipelineInput], where: str) -> Any:
    """Substitute ``${{parent.inputs.x}}`` inside AutoML settings, which are not ports."""
    if isinstance(value, dict):
        return {k: _resolve_parent_literals(v, inputs, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve_parent_literals(v, inputs, where) for v in value]
    binding = whole_binding(value, where)
    if isinstance(binding, ParentInput):
        if binding.name not in inputs:
            raise MlopsError(f"{where}: unknown pipeline input '{binding.name}'")
        return inputs[binding.name].value
    return value


def _command_step(name: str, job: dict[str, Any], base: Path, where: str) -> Step:
    ref = job.get("component")
    if not isinstance(ref, str):
        raise MlopsError(f"{where}: 'component' must be a path to a component YAML file")
    if ref.startswith("azureml:"):
        raise MlopsError(f"{where}: component '{ref}' lives in Azure ML; reference a local file")
    component = load_component(base / ref.removeprefix("file:"))
    bindings = {k: _unwrap(v) for k, v in (job.get("inputs") or {}).items()}
    for output in job.get("outputs") or {}:
        if output not in component.outputs:
            raise MlopsError(f"{where}: component {component.path.name} has no output '{output}'")
    env = {str(k): str(v) for k, v in (job.get("environment_variables") or {}).items()}
    return Step(name, component, bindings, environment_variables=env)


def _automl_step(
    name: str,
    job: dict[str, Any],
    base: Path,
    inputs: Mapping[str, PipelineInput],
    where: str,
    time_budget: int | None,
) -> Step:
    settings = dict(job)
    training_data = settings.get("training_data")
    settings = _resolve_parent_literals(settings, inputs, where)
    settings["training_data"] = training_data  # a port: resolved at run time like any input
    stand_in = map_automl_node(settings, where, time_budget)
    component = load_component(base / AUTOML_STAND_IN)
    for visible, actual in stand_in.outputs.items():
        if actual not in component.outputs:
            raise MlopsError(
                f"{where}: stand-in {component.path.name} has no output '{actual}' for '{visible}'"
            )
    return Step(name, component, dict(stand_in.inputs), dict(stand_in.outputs), automl=True)


def _check_bindings(steps: Mapping[str, Step], inputs: Mapping[str, PipelineInput]) -> None:
    for step in steps.values():
        for input_name, value in step.bindings.items():
            where = f"job '{step.name}' input '{input_name}'"
            if input_name not in step.component.inputs:
                raise MlopsError(
                    f"{where}: component {step.component.path.name} declares no such input"
                )
            bindings = embedded_bindings(value, where)
            for binding in bindings:
                _check_binding(binding, steps, inputs, where)
            if not bindings and value is not None:
                # A literal (including an AutoML setting mapped onto the stand-in): check it
                # against the component's declaration now, before anything runs.
                spec = step.component.inputs[input_name]
                if spec.type not in PATH_TYPES:
                    spec.coerce(value, where)


def _check_binding(
    binding: Binding, steps: Mapping[str, Step], inputs: Mapping[str, PipelineInput], where: str
) -> None:
    if isinstance(binding, ParentInput) and binding.name not in inputs:
        raise MlopsError(f"{where}: unknown pipeline input '{binding.name}'")
    if isinstance(binding, JobOutput):
        if binding.job not in steps:
            raise MlopsError(f"{where}: unknown job '{binding.job}'")
        if steps[binding.job].output_name(binding.output) is None:
            raise MlopsError(f"{where}: job '{binding.job}' has no output '{binding.output}'")
    if isinstance(binding, ParentOutput):
        raise MlopsError(f"{where}: an input cannot read a pipeline output")


def order_steps(steps: Mapping[str, Step]) -> list[Step]:
    """Steps in dependency order (YAML order among independent steps); a cycle is an error."""
    ordered: list[Step] = []
    state: dict[str, str] = {}  # name -> "visiting" | "done"

    def visit(name: str, trail: list[str]) -> None:
        if state.get(name) == "done":
            return
        if state.get(name) == "visiting":
            cycle = trail[trail.index(name) :] + [name]
            raise MlopsError(f"jobs form a cycle: {' -> '.join(cycle)}")
        state[name] = "visiting"
        for dependency in steps[name].dependencies():
            visit(dependency, [*trail, name])
        state[name] = "done"
        ordered.append(steps[name])

    for name in steps:
        visit(name, [])
    return ordered


def load_pipeline(
    path: Path, time_budget: int | None = None, overrides: Mapping[str, Any] | None = None
) -> Pipeline:
    """Read a pipeline job YAML, its components and bindings; fail before anything runs.

    ``overrides`` replace pipeline input values here already, so that AutoML settings
    written as ``${{parent.inputs.x}}`` (mapped at load time) see them too.
    """
    path = path.resolve()
    raw = _read_yaml(path)
    base = path.parent
    assets = local_data_assets(base)
    inputs = {n: _pipeline_input(n, v, base, assets) for n, v in (raw.get("inputs") or {}).items()}
    for name, value in (overrides or {}).items():
        if name not in inputs:
            known = ", ".join(sorted(inputs)) or "none"
            raise MlopsError(f"{path.name} has no input '{name}' (inputs: {known})")
        inputs[name] = PipelineInput(name, inputs[name].type, value)
    steps: dict[str, Step] = {}
    for name, job in raw["jobs"].items():
        where = f"{path.name}: job '{name}'"
        if not isinstance(job, dict):
            raise MlopsError(f"{where}: expected a mapping")
        kind = job.get("type", "command")
        if kind == "command":
            steps[name] = _command_step(name, job, base, where)
        elif kind == "automl":
            steps[name] = _automl_step(name, job, base, inputs, where, time_budget)
        else:
            raise MlopsError(f"{where}: job type '{kind}' cannot run locally")
    _check_bindings(steps, inputs)
    experiment = str(raw.get("experiment_name") or raw.get("display_name") or path.stem)
    return Pipeline(path, experiment, inputs, order_steps(steps))


def check_pipeline_values(pipeline: Pipeline, values: Mapping[str, Any]) -> None:
    """Check pipeline input values against every component input they feed, up front, so
    that a bad ``--set``/``--seed`` stops the run before any step or MLflow run starts."""
    for step in pipeline.steps:
        for input_name, value in step.bindings.items():
            spec = step.component.inputs[input_name]
            binding = whole_binding(value, f"job '{step.name}' input '{input_name}'")
            if spec.type in PATH_TYPES or not isinstance(binding, ParentInput):
                continue
            if values.get(binding.name) is not None:
                where = f"pipeline input '{binding.name}' (job '{step.name}' input '{input_name}')"
                spec.coerce(values[binding.name], where)


def resolve_step_inputs(
    step: Step, pipeline_values: Mapping[str, Any], produced: Mapping[tuple[str, str], Path]
) -> dict[str, Any]:
    """Concrete values of every declared input of a step, checked against its declaration.

    ``pipeline_values`` holds the pipeline inputs (after overrides); ``produced`` maps
    (job, output name as bindings spell it) to the folder that job wrote. Unset optional
    inputs are None.
    """
    resolved: dict[str, Any] = {}
    for name, spec in step.component.inputs.items():
        where = f"job '{step.name}' input '{name}'"
        if name in step.bindings:
            value = _resolve_value(step.bindings[name], pipeline_values, produced, where)
        else:
            value = spec.default
        if value is None:
            if not spec.optional:
                raise MlopsError(f"{where}: required, but neither bound nor defaulted")
            resolved[name] = None
            continue
        if spec.type in PATH_TYPES:
            if isinstance(value, str) and value.startswith("azureml:"):
                raise MlopsError(f"{where}: '{value}' exists only in Azure ML; give a local path")
            if not Path(value).exists():
                raise MlopsError(f"{where}: path {value} does not exist")
        resolved[name] = spec.coerce(value, where)
    return resolved


def _resolve_value(
    value: Any,
    pipeline_values: Mapping[str, Any],
    produced: Mapping[tuple[str, str], Path],
    where: str,
) -> Any:
    lookup: dict[Binding, Any] = {}
    for binding in embedded_bindings(value, where):
        if isinstance(binding, ParentInput):
            lookup[binding] = pipeline_values.get(binding.name)
        elif isinstance(binding, JobOutput):
            lookup[binding] = produced.get((binding.job, binding.output))
    whole = whole_binding(value, where)
    if whole is not None:
        return lookup.get(whole)
    return interpolate(value, where, lookup) if lookup else value
