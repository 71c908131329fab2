"""Run a loaded pipeline on this machine: one subprocess per step, tracked in MLflow.

Layout of one run under ``$MLOPS_HOME/runs/<run-id>/`` (run id = the parent MLflow run):
``inputs/<input>/`` staged data, ``<job>/<output>/`` step outputs, ``logs/<job>.log``.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from taxi_fare.store import ensure_experiment, open_store

from mlops import settings
from mlops.amlspec import expressions
from mlops.amlspec.expressions import Expr
from mlops.amlspec.files import is_local, local_path
from mlops.amlspec.ports import PATH_TYPES
from mlops.amlspec.references import datastore_path
from mlops.errors import MlopsError
from mlops.local import data as data_assets
from mlops.local import reuse
from mlops.local.component import render_command
from mlops.local.environments import Environments, Runtime
from mlops.local.pipeline import (
    Pipeline,
    Step,
    check_pipeline_values,
    load_pipeline,
    resolve_step_inputs,
)

log = logging.getLogger(__name__)
TAIL_LINES = 20
# MLflow variables the runner sets per step; inherited values would point steps elsewhere.
_RUNNER_OWNED = frozenset(
    {
        "MLFLOW_TRACKING_URI",
        "MLFLOW_REGISTRY_URI",
        "MLFLOW_EXPERIMENT_ID",
        "MLFLOW_EXPERIMENT_NAME",
        "MLFLOW_RUN_ID",
        "MLFLOW_PARENT_RUN_ID",
    }
)


@dataclass
class StepResult:
    """What happened to one step."""

    name: str
    state: str = "pending"  # pending | running | succeeded | reused | failed | skipped
    seconds: float = 0.0
    log: Path | None = None
    mlflow_run_id: str | None = None
    cause: str | None = None
    reused_from: str | None = None  # the MLflow run whose outputs a reused step took
    trials: list[dict[str, Any]] = field(default_factory=list)  # sweep steps
    best_trial: int | None = None


@dataclass
class RunResult:
    """A finished (or stopped) pipeline run."""

    run_id: str
    run_dir: Path
    experiment_id: str
    tracking_uri: str
    steps: list[StepResult]
    outputs: dict[tuple[str, str], Path] = field(default_factory=dict)
    pipeline_outputs: dict[str, Path] = field(default_factory=dict)

    @property
    def failed(self) -> StepResult | None:
        return next((s for s in self.steps if s.state == "failed"), None)


class Display(Protocol):
    """Where progress goes (the CLI uses rich; tests can record)."""

    def step_started(self, result: StepResult) -> None: ...

    def step_finished(self, result: StepResult, tail: list[str]) -> None: ...


class SilentDisplay:
    """A display that shows nothing."""

    def step_started(self, result: StepResult) -> None:
        return None

    def step_finished(self, result: StepResult, tail: list[str]) -> None:
        return None


def git_commit(repo: Path = settings.REPO_ROOT) -> str | None:
    """HEAD of the repository, or None outside git."""
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return done.stdout.strip() or None


def pipeline_values(pipeline: Pipeline, overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Pipeline input values after ``--set``-style overrides; unknown names are an error."""
    values = {name: spec.value for name, spec in pipeline.inputs.items()}
    for name, value in overrides.items():
        if name not in values:
            known = ", ".join(sorted(values)) or "none"
            raise MlopsError(f"{pipeline.path.name} has no input '{name}' (inputs: {known})")
        values[name] = value
    return values


def _visible_files(folder: Path) -> list[Path]:
    """Files under a folder, recursively, skipping hidden files and folders."""
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )


def _link(source: Path, link: Path) -> None:
    link.parent.mkdir(parents=True, exist_ok=True)
    try:
        link.symlink_to(source)
    except OSError:  # file systems without symlinks: copy instead
        shutil.copy2(source, link)


def plan_data(paths: Sequence[Path]) -> Path | dict[Path, Path]:
    """What ``--data`` becomes, checked before anything runs.

    One folder is used as it is (returned as a Path). Several paths, or a file, become a
    merged view: relative name -> source file. A file keeps its name, a folder contributes
    its visible files at their relative paths; two sources for one name are an error.
    """
    resolved = [Path(p).resolve() for p in paths]
    for path in resolved:
        if not path.exists():
            raise MlopsError(f"--data: {path} does not exist")
    if len(resolved) == 1 and resolved[0].is_dir():
        if not _visible_files(resolved[0]):
            raise MlopsError(f"--data: no files in {resolved[0]}")
        return resolved[0]
    entries: dict[Path, Path] = {}
    for path in resolved:
        pairs = (
            [(f.relative_to(path), f) for f in _visible_files(path)]
            if path.is_dir()
            else [(Path(path.name), path)]
        )
        for relative, source in pairs:
            if relative in entries and entries[relative] != source:
                raise MlopsError(
                    f"--data: {source} and {entries[relative]} would both be {relative}"
                )
            entries[relative] = source
    if not entries:
        raise MlopsError(f"--data: no files in {', '.join(str(p) for p in resolved)}")
    return entries


def stage_data(plan: Path | dict[Path, Path], target: Path) -> Path:
    """Materialise a data plan: folders are made for real and only files are linked (copied
    where links fail), so steps that search recursively see every file."""
    if isinstance(plan, Path):
        return plan
    for relative, source in plan.items():
        _link(source, target / relative)
    return target


def _tail(path: Path, lines: int = TAIL_LINES) -> list[str]:
    if not path.exists():
        return []
    return path.read_text(errors="replace").splitlines()[-lines:]


_MISSING_MODULE = re.compile(r"ModuleNotFoundError: No module named '([^']+)'")


def _cause(tail: list[str], returncode: int | None, runtime: Runtime | None = None) -> str:
    """Why a step failed, in one line: its own ``error:`` line (the step scripts' contract
    for errors a user can fix), a module its environment lacks, else its last line and
    exit code, or the signal that killed it. ``returncode`` None means the step never
    started; its log holds the reason."""
    lines = [line.strip() for line in tail if line.strip()]
    missing = next((m for line in lines if (m := _MISSING_MODULE.search(line))), None)
    if missing is not None and returncode and runtime is not None:
        module = missing.group(1)
        return (
            f"environment {runtime.label} has no package providing module '{module}' "
            f"(ModuleNotFoundError: No module named '{module}'); add it to its conda file"
        )
    if returncode is None:
        return lines[-1] if lines else "the step did not start"
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    errors = [line for line in lines if line.startswith("error:")]
    if errors:
        return errors[-1]
    return f"{lines[-1]} (exit code {returncode})" if lines else f"exit code {returncode}"


class _Tracking:
    """The parent and child MLflow runs of one pipeline run."""

    def __init__(self, env: str, experiment: str) -> None:
        from mlflow.tracking import MlflowClient

        settings.store_dir(env).mkdir(parents=True, exist_ok=True)
        self.uri = settings.tracking_uri(env)
        open_store(self.uri)  # serialised creation; a damaged store is refused, never repaired
        self.client = MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)
        self.experiment_id = ensure_experiment(  # get-or-create, safe with two runs at once
            self.client, self.uri, experiment, settings.artifact_root(env)
        )

    def start(self, name: str, tags: Mapping[str, str], parent: str | None = None) -> str:
        tags = {**tags, "mlflow.runName": name}
        if parent is not None:
            tags["mlflow.parentRunId"] = parent
        return self.client.create_run(self.experiment_id, tags=tags, run_name=name).info.run_id

    def finish(self, run_id: str, ok: bool) -> None:
        self.client.set_terminated(run_id, "FINISHED" if ok else "FAILED")


class _Run:
    """One pipeline run in progress: what every step executor needs."""

    def __init__(
        self,
        pipeline: Pipeline,
        values: dict[str, Any],
        result: RunResult,
        tracking: _Tracking,
        parent: str,
        base_env: Mapping[str, str],
        display: Display,
        reuse_results: bool,
    ) -> None:
        self.pipeline = pipeline
        self.values = values
        self.result = result
        self.tracking = tracking
        self.parent = parent
        self.base_env = base_env
        self.display = display
        self.reuse_results = reuse_results
        self.environments = Environments()

    def resolve_path(self, value: Any, where: str) -> Path:
        return data_assets.resolve(str(value), self.pipeline.catalogue, where)

    def output_locations(self, step: Step, job_name: str, folder: Path) -> dict[str, Path]:
        """Where each output goes: the path the spec gives (``${{name}}`` is the step's job
        name, ``${{output_name}}`` the output's; datastore URIs map under $MLOPS_HOME), or
        ``<run>/<step>/<output>``. Default output path on Azure:
        ``azureml://datastores/${{default_datastore}}/paths/azureml/${{name}}/${{output_name}}``
        (https://learn.microsoft.com/azure/machine-learning/how-to-manage-inputs-outputs-pipeline)."""
        found: dict[str, Path] = {}
        for name, spec in step.component.outputs.items():
            template = step.output_paths.get(name) or spec.path
            if not template:
                found[name] = folder / name
                continue
            runtime = {"name": job_name, "output_name": name, "default_datastore": _DATASTORE}

            def fill(expr: Expr, table: Mapping[str, str] = runtime, out: str = name) -> str:
                if expr.scope != "runtime":
                    raise MlopsError(f"job '{step.name}' output '{out}': {expr} in a path")
                return table[expr.name]

            text = expressions.substitute(template, fill)
            store = datastore_path(text)
            if store is not None:
                found[name] = data_assets.datastore_root() / store[0] / store[1].strip("/")
            elif is_local(text):
                found[name] = local_path(step.node.path.parent, text)
            else:
                raise MlopsError(f"job '{step.name}' output '{name}': {text} is not local")
        return found


_DATASTORE = "workspaceblobstore"


def _preflight(pipeline: Pipeline, values: dict[str, Any]) -> None:
    """Resolve data references and check local paths of the pipeline now, so that a bad
    one stops the run before any step or MLflow run starts."""
    for name, spec in pipeline.inputs.items():
        value = values.get(name)
        if spec.type not in PATH_TYPES or value is None:
            continue
        where = f"{pipeline.path.name}: input '{name}'"
        if isinstance(value, str) and value.startswith("azureml:"):
            values[name] = data_assets.resolve(value, pipeline.catalogue, where)
        elif not Path(value).exists():
            raise MlopsError(f"{where}: path {value} does not exist")
    for step in pipeline.steps:
        for name, value in step.bindings.items():
            if isinstance(value, str) and value.startswith("azureml:"):
                where = f"job '{step.name}' input '{name}'"
                step.bindings[name] = data_assets.resolve(value, pipeline.catalogue, where)


def run_pipeline(
    pipeline: Pipeline | Path,
    env: str = "dev",
    overrides: Mapping[str, Any] | None = None,
    data: Sequence[Path] | None = None,
    data_input: str = "raw_data",
    display: Display | None = None,
    reuse: bool = True,
    time_budget: int | None = None,
) -> RunResult:
    """Run a pipeline job (a loaded Pipeline, or the path of its YAML) on this machine.

    The stable entry point for other areas (``mlops run``, the Azure DevOps twin's
    ``az ml job create``). Steps run in dependency order; the first failure stops the run
    unless the pipeline sets ``continue_on_step_failure`` (then only the steps that need a
    failed step are skipped). Logs and MLflow runs are kept either way.
    """
    if not isinstance(pipeline, Pipeline):
        pipeline = load_pipeline(Path(pipeline), time_budget=time_budget, overrides=overrides)
    display = display or SilentDisplay()
    values = pipeline_values(pipeline, overrides or {})
    check_pipeline_values(pipeline, values)
    data_plan: Path | dict[Path, Path] | None = None
    if data:
        if data_input not in values:
            raise MlopsError(f"{pipeline.path.name} has no input '{data_input}' to bind --data to")
        data_plan = plan_data([Path(p) for p in data])
        values[data_input] = None  # replaced by the staged data below
    _preflight(pipeline, values)

    tracking = _Tracking(env, pipeline.experiment_name)
    commit = git_commit()
    tags = {"pipeline": str(pipeline.path)}
    if commit:
        tags["mlflow.source.git.commit"] = commit
    parent = tracking.start(pipeline.path.stem, tags)
    run_dir = settings.runs_dir() / parent
    result = RunResult(
        parent,
        run_dir,
        tracking.experiment_id,
        tracking.uri,
        [StepResult(s.name) for s in pipeline.steps],
    )
    ok = False
    try:
        if data_plan is not None:
            values[data_input] = stage_data(data_plan, run_dir / "inputs" / data_input)
        for name, value in values.items():
            if value is not None:
                tracking.client.log_param(parent, name, str(value)[:500])
        inherited = {k: v for k, v in os.environ.items() if k not in _RUNNER_OWNED}
        base_env = {
            **inherited,
            "MLFLOW_TRACKING_URI": tracking.uri,
            "MLFLOW_REGISTRY_URI": tracking.uri,
            "MLFLOW_EXPERIMENT_ID": tracking.experiment_id,
            "PYTHONUNBUFFERED": "1",
        }
        if commit:
            base_env["GIT_COMMIT"] = commit
        run = _Run(pipeline, values, result, tracking, parent, base_env, display, reuse)
        stopped: set[str] = set()
        for step, step_result in zip(pipeline.steps, result.steps, strict=True):
            if any(dependency in stopped for dependency in step.dependencies()):
                step_result.state = "skipped"
                stopped.add(step.name)
                continue
            EXECUTORS[step.kind](run, step, step_result)
            if step_result.state != "failed":
                continue
            stopped.add(step.name)
            if not pipeline.continue_on_step_failure:
                for later in result.steps:
                    if later.state == "pending":
                        later.state = "skipped"
                return result
        for visible, source in pipeline.outputs.items():
            if (source.step, source.output) in result.outputs:
                result.pipeline_outputs[visible] = result.outputs[(source.step, source.output)]
        ok = result.failed is None
        return result
    finally:
        tracking.finish(parent, ok)


def _run_command(run: _Run, step: Step, step_result: StepResult) -> None:
    """A command step (or the AutoML stand-in): reused when nothing changed, else run."""
    outputs = _execute(run, step, step_result, run.parent, run.result.run_dir / step.name)
    if outputs is not None:
        _publish(run, step, outputs)


def _publish(run: _Run, step: Step, outputs: Mapping[str, Path]) -> None:
    for name, folder in outputs.items():
        run.result.outputs[(step.name, name)] = folder
    for visible, actual in step.output_aliases.items():
        run.result.outputs[(step.name, visible)] = outputs[actual]


def _execute(
    run: _Run,
    step: Step,
    step_result: StepResult,
    parent: str,
    folder: Path,
    reuse_allowed: bool = True,
) -> dict[str, Path] | None:
    """Run one component invocation as a child MLflow run; its outputs, or None on failure."""
    logs = run.result.run_dir / "logs"
    step_result.log = logs / f"{step.name}.log"
    step_result.log.parent.mkdir(parents=True, exist_ok=True)
    child = run.tracking.start(step.name, {"component": step.component.name}, parent=parent)
    step_result.mlflow_run_id = child
    step_result.state = "running"
    run.display.step_started(step_result)
    started = time.monotonic()
    returncode: int | None = None
    reused: str | None = None
    runtime: Runtime | None = None
    outputs: dict[str, Path] = {}
    key: str | None = None
    try:
        where = f"job '{step.name}'"
        inputs = resolve_step_inputs(step, run.values, run.result.outputs, run.resolve_path)
        runtime = run.environments.runtime(step.environment, where)
        outputs = run.output_locations(step, child, folder)
        key = reuse.key(step, inputs, f"{runtime.label} {runtime.python}")
        earlier = reuse.lookup(key) if key and run.reuse_results and reuse_allowed else None
        if earlier is not None:
            outputs, reused = earlier
            with step_result.log.open("w") as sink:
                sink.write(f"reused the outputs of run {reused}: nothing changed\n")
            returncode = 0
        else:
            returncode = _subprocess(run, step, step_result.log, inputs, outputs, runtime, child)
    except (MlopsError, OSError) as exc:  # bad input value, or the command cannot start
        with step_result.log.open("a") as sink:
            sink.write(f"error: {exc}\n" if isinstance(exc, OSError) else f"{exc}\n")
    finally:
        step_result.seconds = time.monotonic() - started
        succeeded = returncode == 0
        step_result.state = ("reused" if reused else "succeeded") if succeeded else "failed"
        if reused:
            step_result.reused_from = reused
            run.tracking.client.set_tag(child, "reused_from", reused)
        run.tracking.finish(child, succeeded)
        tail = _tail(step_result.log)
        if not succeeded:
            step_result.cause = _cause(tail, returncode, runtime)
        if step_result.log.exists():
            run.tracking.client.log_artifact(child, str(step_result.log), "logs")
        run.display.step_finished(step_result, tail if not succeeded else [])
    if not succeeded:
        return None
    if key and not reused:
        reuse.remember(key, outputs, child)
    return outputs


def _subprocess(
    run: _Run,
    step: Step,
    log_path: Path,
    inputs: Mapping[str, Any],
    outputs: Mapping[str, Path],
    runtime: Runtime,
    child: str,
    timeout: float | None = None,
) -> int:
    argv = render_command(step.component, inputs, outputs, runtime.python)
    for name, path in outputs.items():
        kind = step.component.outputs[name].type
        (path.parent if kind == "uri_file" else path).mkdir(parents=True, exist_ok=True)
    env = {**run.base_env, **step.environment_variables, "MLFLOW_RUN_ID": child}
    env["PATH"] = f"{runtime.bin}{os.pathsep}{env.get('PATH', '')}"  # `python` in a shell
    if runtime.isolated:
        # Only what the environment declares: no paths inherited from the project's venv.
        env.pop("PYTHONPATH", None)
        env.pop("PYTHONHOME", None)
        env["VIRTUAL_ENV"] = str(runtime.bin.parent)
    # Inside `mlops ado run` (the release-day rehearsal) a project-interpreter step goes to the
    # run's pre-forked Python, which has MLflow, pandas and scikit-learn imported and runs
    # `python SCRIPT ...` as a fresh interpreter would (mlops/ado/zygote.py); the client runs
    # it the ordinary way when the server declines.
    launch, client = argv, env.get("MLOPS_ADO_ZYGOTE_CLIENT")
    if (
        client
        and env.get("MLOPS_ADO_ZYGOTE")
        and not runtime.isolated
        and len(argv) > 1
        and argv[0] == str(runtime.python)
        and argv[1].endswith(".py")
    ):
        launch = [argv[0], client, *argv[1:]]
    cwd = step.component.code
    if cwd is None:  # no code snapshot: the command runs in an empty folder, as on Azure
        cwd = run.result.run_dir / ".empty" / step.name
        cwd.mkdir(parents=True, exist_ok=True)
    log.debug("%s: %s", step.name, " ".join(argv))
    with log_path.open("w") as sink:
        sink.write(f"$ {' '.join(argv)}\n")
        sink.flush()
        try:
            return subprocess.run(
                launch,
                cwd=cwd,
                env=env,
                stdout=sink,
                stderr=subprocess.STDOUT,
                timeout=timeout,
                check=False,
            ).returncode
        except subprocess.TimeoutExpired:
            sink.write(f"error: the trial ran longer than its trial_timeout ({timeout:g} s)\n")
            return 124


# Step kind -> executor. AutoML runs its stand-in as a command and pipeline components are
# flattened; job types in modules of their own (mlops.local.sweep) add themselves here.
EXECUTORS: dict[str, Callable[[_Run, Step, StepResult], None]] = {
    "command": _run_command,
}
