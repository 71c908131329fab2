"""Run a loaded pipeline on this machine: one subprocess per step, tracked in MLflow.

Layout of one run under ``$MLOPS_HOME/runs/<run-id>/`` (run id = the parent MLflow run):
``inputs/<input>/`` staged data, ``<job>/<output>/`` step outputs, ``logs/<job>.log``.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from mlops import settings
from mlops.errors import MlopsError
from mlops.local.component import render_command
from mlops.local.pipeline import Pipeline, Step, check_pipeline_values, resolve_step_inputs

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
    state: str = "pending"  # pending | running | succeeded | failed | skipped
    seconds: float = 0.0
    log: Path | None = None
    mlflow_run_id: str | None = None
    cause: str | None = None


@dataclass
class RunResult:
    """A finished (or stopped) pipeline run."""

    run_id: str
    run_dir: Path
    experiment_id: str
    tracking_uri: str
    steps: list[StepResult]
    outputs: dict[tuple[str, str], Path] = field(default_factory=dict)

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


def _cause(tail: list[str], returncode: int | None) -> str:
    """Why a step failed, in one line: its own ``error:`` line (the step scripts' contract
    for errors a user can fix), else its last line and exit code, or the signal that
    killed it. ``returncode`` None means the step never started; its log holds the reason."""
    lines = [line.strip() for line in tail if line.strip()]
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
        from taxi_fare.store import ensure_experiment, open_store

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


def run_pipeline(
    pipeline: Pipeline,
    env: str = "dev",
    overrides: Mapping[str, Any] | None = None,
    data: Sequence[Path] | None = None,
    data_input: str = "raw_data",
    display: Display | None = None,
) -> RunResult:
    """Run every step in order; stop at the first failure (logs and MLflow runs kept)."""
    display = display or SilentDisplay()
    values = pipeline_values(pipeline, overrides or {})
    check_pipeline_values(pipeline, values)
    data_plan: Path | dict[Path, Path] | None = None
    if data:
        if data_input not in values:
            raise MlopsError(f"{pipeline.path.name} has no input '{data_input}' to bind --data to")
        data_plan = plan_data([Path(p) for p in data])

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
        for step, step_result in zip(pipeline.steps, result.steps, strict=True):
            _run_step(step, step_result, values, result, tracking, parent, base_env, display)
            if step_result.state == "failed":
                for later in result.steps:
                    if later.state == "pending":
                        later.state = "skipped"
                return result
        ok = True
        return result
    finally:
        tracking.finish(parent, ok)


def _run_step(
    step: Step,
    step_result: StepResult,
    values: Mapping[str, Any],
    result: RunResult,
    tracking: _Tracking,
    parent: str,
    base_env: Mapping[str, str],
    display: Display,
) -> None:
    logs = result.run_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    step_result.log = logs / f"{step.name}.log"
    outputs = {name: result.run_dir / step.name / name for name in step.component.outputs}
    child = tracking.start(step.name, {"component": step.component.name}, parent=parent)
    step_result.mlflow_run_id = child
    step_result.state = "running"
    display.step_started(step_result)
    started = time.monotonic()
    returncode: int | None = None
    try:
        inputs = resolve_step_inputs(step, values, result.outputs)
        argv = render_command(step.component, inputs, outputs)
        for folder in outputs.values():
            folder.mkdir(parents=True, exist_ok=True)
        env = {**base_env, **step.environment_variables, "MLFLOW_RUN_ID": child}
        log.debug("%s: %s", step.name, " ".join(argv))
        with step_result.log.open("w") as sink:
            sink.write(f"$ {' '.join(argv)}\n")
            sink.flush()
            returncode = subprocess.run(
                argv, cwd=step.component.code, env=env, stdout=sink, stderr=subprocess.STDOUT
            ).returncode
    except (MlopsError, OSError) as exc:  # bad input value, or the command cannot start
        with step_result.log.open("a") as sink:
            sink.write(f"error: {exc}\n" if isinstance(exc, OSError) else f"{exc}\n")
    finally:
        step_result.seconds = time.monotonic() - started
        succeeded = returncode == 0
        step_result.state = "succeeded" if succeeded else "failed"
        tracking.finish(child, succeeded)
        tail = _tail(step_result.log)
        if not succeeded:
            step_result.cause = _cause(tail, returncode)
        if step_result.log.exists():
            tracking.client.log_artifact(child, str(step_result.log), "logs")
        display.step_finished(step_result, tail if not succeeded else [])
    if succeeded:
        for name, folder in outputs.items():
            result.outputs[(step.name, name)] = folder
        for visible, actual in step.output_aliases.items():
            result.outputs[(step.name, visible)] = outputs[actual]
