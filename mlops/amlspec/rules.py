"""What is wrong with a spec, as Azure ML would see it: rules over the model.

``mlops validate`` turns these problems into findings; the local runner raises the first
one before anything runs. Both call the functions here, so they cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mlops.amlspec import graph
from mlops.amlspec import problems as rules
from mlops.amlspec.catalogue import Catalogue
from mlops.amlspec.expressions import Expr, ExpressionError, find, texts, whole
from mlops.amlspec.files import YDict, read
from mlops.amlspec.loader import Loader
from mlops.amlspec.model import Component, Node, PipelineBody
from mlops.amlspec.ports import INPUT_MODES, OUTPUT_MODES, PATH_TYPES
from mlops.errors import MlopsError

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
# Keys a pipeline step may hold, by step type (azure-ai-ml 1.35.2 azure/ai/ml/_schema/
# pipeline/component_job.py and pipeline/automl_node.py node schemas; it only warns).
STEP_KEYS = {
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
    "sweep": _COMMON_STEP_KEYS
    | {"trial", "search_space", "objective", "sampling_algorithm", "limits", "early_termination"},
}
# Sweep search-space distributions and the keys each takes (azure-ai-ml 1.35.2
# azure/ai/ml/entities/_job/sweep/search_space.py).
DISTRIBUTIONS = {
    "choice": {"values"},
    "randint": {"upper"},
    "uniform": {"min_value", "max_value"},
    "loguniform": {"min_value", "max_value"},
    "quniform": {"min_value", "max_value", "q"},
    "qloguniform": {"min_value", "max_value", "q"},
    "normal": {"mu", "sigma"},
    "lognormal": {"mu", "sigma"},
    "qnormal": {"mu", "sigma", "q"},
    "qlognormal": {"mu", "sigma", "q"},
}
SAMPLING = frozenset({"random", "grid", "bayesian"})


@dataclass
class Checked:
    """A loaded pipeline job and everything wrong with it (and with what it uses)."""

    body: PipelineBody | None
    problems: rules.Problems
    loader: Loader

    def raise_first(self) -> PipelineBody:
        self.problems.raise_first()
        if self.body is None:  # pragma: no cover - a None body always comes with a problem
            raise MlopsError("not a pipeline job")
        return self.body


class Checker:
    """Runs the rules over components and pipeline bodies, each once."""

    def __init__(self, loader: Loader) -> None:
        self.loader = loader
        self._done: set[int] = set()

    def add(self, path: Path, line: int, rule: str, message: str) -> None:
        self.loader.add(path, line, rule, message)

    def component(self, component: Component) -> None:
        if id(component) in self._done:
            return
        self._done.add(id(component))
        self.command(component)
        if component.body is not None:
            self.body(component.body)

    def command(self, component: Component) -> None:
        """``${{inputs.x}}``/``${{outputs.y}}`` in a command name declared ports."""
        if component.command is None:
            return
        declared = {"inputs": component.inputs, "outputs": component.outputs}
        for text in texts(component.command):
            try:
                expr = whole("${{" + text + "}}")
            except ExpressionError:
                expr = None
            if (
                expr is not None
                and expr.scope == "own"
                and expr.name not in declared[str(expr.section)]
            ):
                self.add(
                    component.path,
                    component.command_line,
                    rules.BINDING,
                    f"command uses ${{{{{text}}}}} but {expr.section}: declares no {expr.name!r}",
                )

    def body(self, body: PipelineBody) -> None:
        if id(body) in self._done:
            return
        self._done.add(id(body))
        jobs = body.doc.get("jobs")
        for name, node in body.jobs.items():
            self.step_keys(node)
            for line, where, expr in node.expressions():
                self.binding(body, node, line, where, expr)
            if node.component is not None:
                self.component(node.component)
            if node.known and node.component is not None and node.type != "automl":
                self.step_io(node, node.component)
            if node.type == "sweep":
                self.sweep(node)
            for port in node.outputs.values():
                if port.mode is not None and port.mode not in OUTPUT_MODES:
                    self.add(
                        node.path,
                        port.line,
                        rules.INPUT,
                        f"jobs.{name}.outputs.{port.name}: mode {port.mode!r} is not one of "
                        f"{', '.join(sorted(OUTPUT_MODES))}",
                    )
            for port in node.inputs.values():
                if port.mode is not None and port.mode not in INPUT_MODES:
                    self.add(
                        node.path,
                        port.line,
                        rules.INPUT,
                        f"jobs.{name}.inputs.{port.name}: mode {port.mode!r} is not one of "
                        f"{', '.join(sorted(INPUT_MODES))}",
                    )
        cycle = graph.find_cycle(body.edges())
        if cycle and isinstance(jobs, YDict):
            self.add(
                body.path,
                jobs.key_line(cycle[0]),
                rules.CYCLE,
                f"jobs form a dependency cycle: {' -> '.join(cycle)}",
            )

    def compute(self, body: PipelineBody) -> None:
        """A pipeline job must say where each job runs: ``settings.default_compute`` or the
        job's ``compute`` (azure-ai-ml 1.35.2 azure/ai/ml/entities/_job/pipeline/
        pipeline_job.py:PipelineJob._validate_compute_is_set: "Compute not set"), and
        ``az ml job create`` submits only what validates (operations/_job_operations.py:
        JobOperations.create_or_update calls ``self._validate(job, raise_on_failure=True)``)."""
        if body.settings.get("default_compute") or body.doc.get("compute"):
            return
        for node in body.jobs.values():
            if node.type != "pipeline" and not node.doc.get("compute"):
                self.add(
                    node.path,
                    node.line,
                    rules.KEY,
                    f"jobs.{node.name}: compute not set (give the job a compute or the "
                    "pipeline settings.default_compute)",
                )

    def step_keys(self, node: Node) -> None:
        allowed = STEP_KEYS.get(node.type)
        if allowed is None:
            return
        for key in node.doc:
            if key not in allowed:
                self.add(
                    node.path,
                    node.doc.key_line(key),
                    rules.KEY,
                    f"jobs.{node.name}: unknown key {key!r} for a {node.type} step "
                    f"(allowed: {', '.join(sorted(allowed))})",
                )

    def binding(
        self, body: PipelineBody, node: Node, line: int, where: str, expr: Expr | ExpressionError
    ) -> None:
        if isinstance(expr, ExpressionError):
            self.add(node.path, line, rules.BINDING, f"jobs.{node.name}.{where}: {expr}")
            return
        text = f"jobs.{node.name}.{where}: {expr}"
        if expr.scope == "runtime":
            return  # filled by Azure ML (output paths)
        if expr.scope == "own" and node.type == "parallel":
            return  # a parallel job's input_data names its own inputs
        if expr.scope not in ("parent", "job"):
            self.add(
                node.path,
                line,
                rules.BINDING,
                f"{text} is not a parent.inputs/outputs/jobs binding",
            )
            return
        if expr.scope == "parent":
            declared = body.inputs if expr.section == "inputs" else body.outputs
            if expr.name not in declared:
                known = ", ".join(sorted(declared)) or "none"
                self.add(
                    node.path,
                    line,
                    rules.BINDING,
                    f"{text}: the pipeline declares no {str(expr.section)[:-1]} {expr.name!r} "
                    f"(has: {known})",
                )
            return
        other = body.jobs.get(str(expr.job))
        if other is None:
            known = ", ".join(sorted(body.jobs)) or "none"
            self.add(
                node.path,
                line,
                rules.BINDING,
                f"{text}: there is no job {expr.job!r} (jobs: {known})",
            )
            return
        if not other.known:
            return
        names = other.input_names() if expr.section == "inputs" else other.output_names()
        if expr.name not in names:
            source = other.component.source if other.component else "the AutoML node"
            self.add(
                node.path,
                line,
                rules.BINDING,
                f"{text}: job {expr.job!r} has no {str(expr.section)[:-1]} {expr.name!r} "
                f"({source} has: {', '.join(sorted(names)) or 'none'})",
            )

    def step_io(self, node: Node, component: Component) -> None:
        inputs = node.doc.get("inputs")
        bound = set(node.inputs)
        if node.type == "sweep":
            space = node.doc.get("search_space")
            bound |= set(space) if isinstance(space, YDict) else set()
        for name, port in node.inputs.items():
            spec = component.inputs.get(name)
            if spec is None:
                known = ", ".join(sorted(component.inputs)) or "none"
                self.add(
                    node.path,
                    port.line,
                    rules.INPUT,
                    f"jobs.{node.name}.inputs.{name}: {component.source} declares no input "
                    f"{name!r} (declares: {known})",
                )
                continue
            value = port.value
            if value is None or isinstance(value, Path | dict | list) or list(find(value)):
                continue
            if spec.type not in PATH_TYPES:
                try:
                    spec.coerce(value, f"jobs.{node.name}.inputs.{name}")
                except MlopsError as exc:
                    self.add(node.path, port.line, rules.INPUT, str(exc))
        for name, spec in component.inputs.items():
            if spec.required and name not in bound:
                line = node.doc.key_line("inputs") if isinstance(inputs, YDict) else node.doc.line
                self.add(
                    node.path,
                    line,
                    rules.INPUT,
                    f"jobs.{node.name}: required input {name!r} of {component.source} is not bound",
                )
        for name, port in node.outputs.items():
            if name not in component.outputs:
                known = ", ".join(sorted(component.outputs)) or "none"
                self.add(
                    node.path,
                    port.line,
                    rules.INPUT,
                    f"jobs.{node.name}.outputs.{name}: {component.source} declares no output "
                    f"{name!r} (declares: {known})",
                )

    def sweep(self, node: Node) -> None:
        doc = node.doc
        where = f"jobs.{node.name}"
        space = doc.get("search_space")
        trial = node.component
        if not isinstance(space, YDict) or not space:
            self.add(node.path, doc.line, rules.KEY, f"{where}: a sweep needs a search_space")
            space = YDict()
        for name, dist in space.items():
            line = space.key_line(name)
            kind = dist.get("type") if isinstance(dist, YDict) else None
            if kind not in DISTRIBUTIONS:
                self.add(
                    node.path,
                    line,
                    rules.INPUT,
                    f"{where}.search_space.{name}: type {kind!r} is not one of "
                    f"{', '.join(sorted(DISTRIBUTIONS))}",
                )
                continue
            missing = DISTRIBUTIONS[str(kind)] - set(dist)
            if missing:
                self.add(
                    node.path,
                    line,
                    rules.INPUT,
                    f"{where}.search_space.{name}: {kind} needs {', '.join(sorted(missing))}",
                )
            if trial is not None and name not in trial.inputs:
                self.add(
                    node.path,
                    line,
                    rules.INPUT,
                    f"{where}.search_space.{name}: the trial {trial.source} declares no input "
                    f"{name!r}",
                )
        objective = doc.get("objective")
        if not isinstance(objective, YDict) or not isinstance(objective.get("primary_metric"), str):
            self.add(
                node.path, doc.line, rules.KEY, f"{where}: a sweep needs objective.primary_metric"
            )
        elif str(objective.get("goal", "")).lower() not in ("minimize", "maximize"):
            self.add(
                node.path,
                objective.key_line("goal"),
                rules.INPUT,
                f"{where}.objective.goal: {objective.get('goal')!r} is not minimize or maximize",
            )
        sampling = doc.get("sampling_algorithm", "random")
        kind = sampling.get("type") if isinstance(sampling, YDict) else sampling
        if str(kind).lower() not in SAMPLING:
            self.add(
                node.path,
                doc.key_line("sampling_algorithm"),
                rules.INPUT,
                f"{where}.sampling_algorithm: {kind!r} is not one of {', '.join(sorted(SAMPLING))}",
            )
        elif str(kind).lower() == "grid":
            for name, dist in space.items():
                if isinstance(dist, YDict) and dist.get("type") not in ("choice", None):
                    self.add(
                        node.path,
                        space.key_line(name),
                        rules.INPUT,
                        f"{where}.search_space.{name}: grid sampling takes only choice, "
                        f"not {dist.get('type')}",
                    )


def check_pipeline_job(path: Path, catalogue: Catalogue, root: Path | None = None) -> Checked:
    """Load a pipeline job and run every rule over it and the components it uses."""
    loader = Loader(catalogue, root)
    body = loader.pipeline_job(path)
    if body is not None:
        doc = read(path)
        if isinstance(doc, YDict) and doc.get("type") != "pipeline":
            loader.add(body.path, 1, rules.KEY, "not a pipeline job (expected 'type: pipeline')")
        elif not body.jobs:
            loader.add(body.path, body.line, rules.KEY, "the pipeline has no jobs")
        checker = Checker(loader)
        checker.body(body)
        checker.compute(body)
    return Checked(body, loader.problems, loader)


def check_component(path: Path, catalogue: Catalogue, root: Path | None = None) -> rules.Problems:
    """Load a component spec (and any pipeline inside it) and run every rule over it."""
    loader = Loader(catalogue, root)
    component = loader.component_file(path)
    if component is not None:
        Checker(loader).component(component)
    return loader.problems
