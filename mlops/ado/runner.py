"""Run a compiled pipeline on this machine: stages and jobs in dependency order, steps in bash.

Run-time semantics followed (learn.microsoft.com/en-us/azure/devops/pipelines/...):
- process/conditions: a custom condition replaces the default ``succeeded()``; a stage or
  job is skipped unless its condition holds over its dependencies' results; a step runs
  by default only while the job has not failed; ``continueOnError`` makes a failure
  ``SucceededWithIssues``.
- process/variables, process/set-variables-scripts: variables are mapped into the step
  environment upper-cased with ``.`` as ``_`` (secrets are not); ``$(name)`` macros are
  replaced before a step starts (an unknown one stays as written); ``$[ ]`` runtime
  expressions are evaluated when their stage or job starts; ``task.setvariable`` sets a
  variable for the later steps of the job, ``isOutput=true`` publishes it as
  ``<step>.<name>`` to ``dependencies``/``stageDependencies``.
- process/deployment-jobs: output variables of a runOnce deployment job are read as
  ``dependencies.<job>.outputs['<job>.<step>.<name>']``; the environment is recorded.
- build/variables: the predefined variables set below.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from mlops import settings
from mlops.ado import agent_tools, venv_cache, vso, zygote
from mlops.ado import expressions as ex
from mlops.ado.errors import AdoError, ExpressionError
from mlops.ado.expand import Compiled, Node, compile_pipeline
from mlops.ado.model import Job, Plan, Stage, Step, order, plan
from mlops.errors import MlopsError

log = logging.getLogger(__name__)
TAIL_LINES = 20
_MACRO = re.compile(r"\$\(([A-Za-z_][\w.\-]*)\)")
_RUNTIME = re.compile(r"^\s*\$\[(.*)\]\s*$", re.DOTALL)
OK_RESULTS = ("Succeeded", "SucceededWithIssues")
EMULATED_TASKS = (
    "AzureCLI@2",
    "PublishPipelineArtifact@1",
    "DownloadPipelineArtifact@2",
    "UsePythonVersion@0",
)
_NOT_EMULATED = (
    (re.compile(r"(^|[\s;&|(`])terraform(\s|$)", re.MULTILINE), "terraform"),
    (re.compile(r"(^|[\s;&|(`])az\s+(deployment|bicep)\b", re.MULTILINE), "az deployment/bicep"),
)


@dataclass
class RunOptions:
    params: dict[str, str] = field(default_factory=dict)
    branch: str = "main"
    pr_changed: list[str] = field(default_factory=list)
    skip_jobs: list[str] = field(default_factory=list)  # "stage.job" or "job"


@dataclass
class StepRecord:
    display: str
    name: str | None
    where: str
    result: str = "Pending"
    seconds: float = 0.0
    log: str | None = None
    reason: str | None = None
    issues: list[dict[str, str]] = field(default_factory=list)


@dataclass
class JobRecord:
    stage: str
    name: str
    display: str
    deployment: bool
    environment: str | None
    result: str = "Pending"
    reason: str | None = None
    steps: list[StepRecord] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)


@dataclass
class StageRecord:
    name: str
    display: str
    result: str = "Pending"
    jobs: list[JobRecord] = field(default_factory=list)


@dataclass
class RunRecord:
    pipeline: str
    run_id: str
    run_dir: str
    build_id: int
    branch: str
    pull_request: dict[str, Any] | None
    parameters: dict[str, Any]
    result: str = "Pending"
    stages: list[StageRecord] = field(default_factory=list)
    artifacts: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def failed_step(self) -> tuple[JobRecord, StepRecord] | None:
        for stage in self.stages:
            for job in stage.jobs:
                for step in job.steps:
                    if step.result == "Failed":
                        return job, step
        return None


class Display(Protocol):
    def stage_started(self, stage: StageRecord) -> None: ...
    def stage_finished(self, stage: StageRecord) -> None: ...
    def job_started(self, job: JobRecord) -> None: ...
    def job_finished(self, job: JobRecord) -> None: ...
    def step_started(self, job: JobRecord, step: StepRecord) -> None: ...
    def step_finished(self, job: JobRecord, step: StepRecord, tail: list[str]) -> None: ...


class SilentDisplay:
    def __getattr__(self, name: str) -> Callable[..., None]:
        return lambda *args, **kwargs: None


def env_name(variable: str) -> str:
    """How a variable is named in a step's environment."""
    return variable.upper().replace(".", "_").replace(" ", "_")


class Variables:
    """Variables by case-insensitive name, with secrets and macro expansion."""

    def __init__(self, values: Mapping[str, str] | None = None) -> None:
        self._values: dict[str, tuple[str, str]] = {}  # folded -> (name, value)
        self.secrets: set[str] = set()
        for name, value in (values or {}).items():
            self.set(name, value)

    def copy(self) -> Variables:
        other = Variables()
        other._values = dict(self._values)
        other.secrets = set(self.secrets)
        return other

    def set(self, name: str, value: str, secret: bool = False) -> None:
        self._values[name.casefold()] = (name, value)
        if secret:
            self.secrets.add(name.casefold())

    def get(self, name: str) -> str | None:
        found = self._values.get(name.casefold())
        return None if found is None else found[1]

    def mapping(self) -> dict[str, str]:
        return {name: value for name, value in self._values.values()}

    def expand(self, text: str, depth: int = 0) -> str:
        """``$(name)`` replaced by the variable's value (recursively); unknown ones stay."""
        if "$(" not in text or depth > 10:
            return text

        def put(match: re.Match[str]) -> str:
            value = self.get(match.group(1))
            return match.group(0) if value is None else self.expand(value, depth + 1)

        return _MACRO.sub(put, text)

    def environment(self) -> dict[str, str]:
        return {
            env_name(name): self.expand(value)
            for folded, (name, value) in self._values.items()
            if folded not in self.secrets
        }


def _git(root: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return done.stdout.strip()


def _next_build_id(home: Path) -> int:
    counter = home / "ado" / "build-id"
    counter.parent.mkdir(parents=True, exist_ok=True)
    current = int(counter.read_text()) if counter.is_file() else 0
    counter.write_text(str(current + 1))
    return current + 1


def check_supported(plan_: Plan) -> None:
    """Refuse, before anything runs, what this twin does not emulate (one line, by name)."""
    for stage in plan_.stages:
        for job in stage.jobs:
            if job.node.get("container") or (job.node.get("services")):
                raise AdoError(
                    job.node.file, job.node.line, f"job {job.name}: containers are not emulated"
                )
            for step in [*job.steps, *job.on_success, *job.on_failure]:
                kind = step.kind
                node = step.node
                if kind in ("pwsh", "powershell"):
                    raise AdoError(
                        node.file, node.line, f"{kind} steps are not emulated (bash only)"
                    )
                if kind == "unknown":
                    raise AdoError(
                        node.file,
                        node.line,
                        "step has none of script, bash, task, checkout, publish, download",
                    )
                if kind == "checkout" and str(node["checkout"]) not in ("self", "none"):
                    raise AdoError(
                        node.file,
                        node.line,
                        f"checkout: {node['checkout']}: only self and none are emulated",
                    )
                if kind == "download" and str(node["download"]) != "current":
                    raise AdoError(
                        node.file,
                        node.line,
                        "download: only artifacts of the current run are emulated",
                    )
                if kind == "task":
                    task = str(node["task"])
                    if not any(task.casefold() == t.casefold() for t in EMULATED_TASKS):
                        raise AdoError(
                            node.file,
                            node.line,
                            f"task {task} is not emulated by mlops ado run "
                            f"(emulated: {', '.join(EMULATED_TASKS)})",
                        )
                    inputs = node.get("inputs") or {}
                    if (
                        task.casefold() == "azurecli@2"
                        and str(inputs.get("scriptType", "")).lower() != "bash"
                    ):
                        raise AdoError(
                            node.file,
                            node.line,
                            f"AzureCLI@2 scriptType {inputs.get('scriptType')!r}: "
                            "only bash is emulated",
                        )
                if node.get("target"):
                    raise AdoError(node.file, node.line, "step target (containers) is not emulated")
                script = _script_text(step)
                for pattern, tool in _NOT_EMULATED:
                    if script and pattern.search(script):
                        raise AdoError(
                            node.file,
                            node.line,
                            f"step '{step.display}' runs {tool}, which mlops ado run does not "
                            "emulate (infrastructure pipelines: use mlops ado expand)",
                        )


def _script_text(step: Step) -> str | None:
    node = step.node
    if step.kind in ("script", "bash"):
        return str(node[step.kind])
    if step.kind == "task" and str(node["task"]).casefold() == "azurecli@2":
        inputs = node.get("inputs") or {}
        return str(inputs.get("inlineScript") or "")
    return None


class Runner:
    """One run of one pipeline."""

    def __init__(
        self, compiled: Compiled, options: RunOptions, display: Display | None = None
    ) -> None:
        self.compiled = compiled
        self.options = options
        self.display = display or SilentDisplay()
        self.root = compiled.root
        self.home = settings.mlops_home()
        self.plan = plan(compiled)
        check_supported(self.plan)
        self.build_id = _next_build_id(self.home)
        stem = compiled.path.stem
        self.run_dir = self.home / "ado" / "runs" / f"{self.build_id:04d}-{stem}"
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.artifacts = self.run_dir / "artifacts"
        self.bin_dir = agent_tools.install(self.run_dir / "bin")
        self.pr = self._pull_request()
        self.record = RunRecord(
            pipeline=str(compiled.path.relative_to(self.root))
            if compiled.path.is_relative_to(self.root)
            else str(compiled.path),
            run_id=self.run_dir.name,
            run_dir=str(self.run_dir),
            build_id=self.build_id,
            branch=options.branch,
            pull_request=self.pr,
            parameters={k: v for k, v in compiled.parameters.items()},
        )
        # outputs[stage][job] = {"step.var": value} as read through outputs['...'].
        self.outputs: dict[str, dict[str, dict[str, str]]] = {}
        self.results: dict[str, dict[str, str]] = {}
        self.stage_results: dict[str, str] = {}
        self.zygote: zygote.Zygote | None = None

    # Setup ------------------------------------------------------------------------------

    def _pull_request(self) -> dict[str, Any] | None:
        if not self.options.pr_changed:
            return None
        target = self.options.branch
        ref = next(
            (
                r
                for r in (f"origin/{target}", target)
                if _git(self.root, "rev-parse", "--verify", "--quiet", r)
            ),
            None,
        )
        if ref is None:
            raise MlopsError(
                f"--pr-changed: the target branch {target} (or origin/{target}) "
                f"does not exist in {self.root}"
            )
        changed = (_git(self.root, "diff", "--name-only", f"{ref}...HEAD") or "").splitlines()
        for path in self.options.pr_changed:
            rel = Path(path).as_posix()
            if rel not in changed:
                raise MlopsError(
                    f"--pr-changed {rel}: HEAD does not change it against {ref} "
                    f"(changed: {', '.join(changed) or 'nothing'}); "
                    "commit the pull request's change first"
                )
        source = _git(self.root, "rev-parse", "--abbrev-ref", "HEAD") or "pr"
        return {
            "target": f"refs/heads/{target}",
            "source": f"refs/heads/{source}",
            "changed": changed,
            "id": self.build_id,
        }

    def predefined(self) -> dict[str, str]:
        commit = _git(self.root, "rev-parse", "HEAD") or "0" * 40
        branch = self.options.branch
        values = {
            "Build.SourcesDirectory": str(self.root),
            "Build.Repository.LocalPath": str(self.root),
            "System.DefaultWorkingDirectory": str(self.root),
            "Build.SourceVersion": commit,
            "Build.SourceBranch": f"refs/heads/{branch}",
            "Build.SourceBranchName": branch,
            "Build.BuildId": str(self.build_id),
            "Build.BuildNumber": f"{datetime.now(UTC):%Y%m%d}.{self.build_id}",
            "Build.DefinitionName": self.compiled.path.stem,
            "Build.Reason": "Manual",
            "Build.Repository.Name": self.root.name,
            "System.TeamProject": "taxi-fare",
            "System.CollectionUri": "https://dev.azure.com/emulated/",
            "System.AccessToken": "mlops-ado-emulated-token",
            "System.StageAttempt": "1",
            "System.JobAttempt": "1",
            "Agent.OS": "Linux",
            "Agent.Name": "mlops-ado",
            "Agent.ToolsDirectory": str(self.home / "ado" / "tools"),
            "TF_BUILD": "True",
        }
        if self.pr is not None:
            values.update(
                {
                    "Build.Reason": "PullRequest",
                    "System.PullRequest.TargetBranch": self.pr["target"],
                    "System.PullRequest.SourceBranch": self.pr["source"],
                    "System.PullRequest.PullRequestId": str(self.pr["id"]),
                    "Build.SourceBranch": f"refs/pull/{self.pr['id']}/merge",
                    "Build.SourceBranchName": "merge",
                }
            )
        return values

    # Expressions ------------------------------------------------------------------------

    def _evaluate(
        self,
        text: str,
        values: Mapping[str, Any],
        status: Callable[[str, tuple[str, ...]], bool],
        where: Node,
        what: str,
    ) -> Any:
        try:
            return ex.evaluate_text(text, ex.Context(values, status, where=what))
        except ExpressionError as exc:
            raise AdoError(where.file, where.line, f"{what} {text!r}: {exc}") from None

    def _runtime_variables(
        self, items: list[Any], base: Variables, context: Mapping[str, Any], where: Node
    ) -> Variables:
        result = base.copy()
        for item in items:
            if not isinstance(item, dict) or "name" not in item:
                continue  # variable groups live in Azure DevOps; none are used here
            value = str(item.get("value", ""))
            runtime = _RUNTIME.match(value)
            if runtime:
                values = {"variables": result.mapping(), **context}
                value = ex.to_str(
                    self._evaluate(
                        runtime.group(1),
                        values,
                        _no_status,
                        item if isinstance(item, Node) else where,
                        "runtime expression",
                    )
                )
            result.set(str(item["name"]), value)
        return result

    @staticmethod
    def _dependency_status(
        results: Mapping[str, str], depends: list[str]
    ) -> Callable[[str, tuple[str, ...]], bool]:
        def status(name: str, names: tuple[str, ...]) -> bool:
            chosen = [results.get(n, "Skipped") for n in (names or tuple(depends))]
            if name == "succeeded":
                return all(r in OK_RESULTS for r in chosen)
            if name == "failed":
                return any(r == "Failed" for r in chosen)
            # canceled(): nothing is canceled here
            return name in ("succeededorfailed", "always")

        return status

    # Running ----------------------------------------------------------------------------

    def run(self) -> RunRecord:
        base = Variables(self.predefined())
        # The job token is a secret: a step sees it only when its env maps it explicitly
        # (https://learn.microsoft.com/en-us/azure/devops/pipelines/build/variables#systemaccesstoken).
        base.set("System.AccessToken", base.get("System.AccessToken") or "", secret=True)
        pipeline_vars = self._runtime_variables(self.plan.variables, base, {}, self.compiled.doc)
        if zygote.enabled() and _calls_azure(self.plan):
            # Heavy imports once for the runs of this MLOPS_HOME: mlops/ado/zygote.py.
            self.zygote = zygote.ensure(self.home, self.home / "ado" / "zygote.log")
        try:
            for stage in order(self.plan.stages):
                self._run_stage(stage, pipeline_vars)
        finally:
            self._cleanup()
        failed = any(s.result == "Failed" for s in self.record.stages)
        self.record.result = "Failed" if failed else "Succeeded"
        (self.run_dir / "summary.json").write_text(
            json.dumps(self.record.to_dict(), indent=2) + "\n"
        )
        return self.record

    def _cleanup(self) -> None:
        from mlops.ado.az import servers

        servers.stop_run(self.run_dir)  # the pre-forked Python stays for the next run

    def _stage_dependencies(self, stage: Stage) -> dict[str, Any]:
        deps: dict[str, Any] = {}
        for name in stage.depends_on:
            outputs: dict[str, str] = {}
            for job, values in self.outputs.get(name, {}).items():
                for key, value in values.items():
                    outputs[f"{job}.{key}"] = value
            deps[name] = {"result": self.stage_results.get(name, "Skipped"), "outputs": outputs}
        return deps

    def _run_stage(self, stage: Stage, pipeline_vars: Variables) -> None:
        record = StageRecord(stage.name, stage.display)
        self.record.stages.append(record)
        deps = self._stage_dependencies(stage)
        status = self._dependency_status(self.stage_results, stage.depends_on)
        condition = stage.condition or "succeeded()"
        values = {"variables": pipeline_vars.mapping(), "dependencies": deps}
        if not ex.to_bool(self._evaluate(condition, values, status, stage.node, "stage condition")):
            record.result = "Skipped"
            self.stage_results[stage.name] = "Skipped"
            for job in stage.jobs:
                record.jobs.append(
                    JobRecord(
                        stage.name,
                        job.name,
                        job.display,
                        job.deployment,
                        job.environment,
                        "Skipped",
                        f"stage {stage.name} skipped",
                    )
                )
            self.display.stage_finished(record)
            return
        self.display.stage_started(record)
        stage_vars = self._runtime_variables(
            stage.variables, pipeline_vars, {"dependencies": deps}, stage.node
        )
        stage_vars.set("System.StageName", stage.name)
        stage_vars.set("System.StageDisplayName", stage.display)
        self.results[stage.name] = {}
        self.outputs[stage.name] = {}
        for job in order(stage.jobs):
            self._run_job(stage, job, stage_vars, record)
        results = [j.result for j in record.jobs]
        if any(r == "Failed" for r in results):
            record.result = "Failed"
        elif any(r == "SucceededWithIssues" for r in results):
            record.result = "SucceededWithIssues"
        else:
            record.result = "Succeeded"
        self.stage_results[stage.name] = record.result
        self.display.stage_finished(record)

    def _skip_wanted(self, stage: Stage, job: Job) -> bool:
        return any(s in (job.name, f"{stage.name}.{job.name}") for s in self.options.skip_jobs)

    def _run_job(
        self, stage: Stage, job: Job, stage_vars: Variables, stage_record: StageRecord
    ) -> None:
        record = JobRecord(stage.name, job.name, job.display, job.deployment, job.environment)
        stage_record.jobs.append(record)
        results = self.results[stage.name]
        if self._skip_wanted(stage, job):
            record.result, record.reason = "Skipped", "skipped with --skip-job"
            results[job.name] = "Skipped"
            self.display.job_finished(record)
            return
        dependencies = {
            name: {
                "result": results.get(name, "Skipped"),
                "outputs": dict(self.outputs[stage.name].get(name, {})),
            }
            for name in job.depends_on
        }
        stage_dependencies = {
            sname: {jname: {"outputs": dict(values)} for jname, values in jobs.items()}
            for sname, jobs in self.outputs.items()
            if sname != stage.name
        }
        context = {"dependencies": dependencies, "stageDependencies": stage_dependencies}
        status = self._dependency_status(results, job.depends_on)
        condition = job.condition or "succeeded()"
        values = {"variables": stage_vars.mapping(), **context}
        if not ex.to_bool(self._evaluate(condition, values, status, job.node, "job condition")):
            record.result, record.reason = "Skipped", f"condition {condition} was false"
            results[job.name] = "Skipped"
            self.display.job_finished(record)
            return
        self.display.job_started(record)
        job_vars = self._runtime_variables(job.variables, stage_vars, context, job.node)
        job_dir = self.run_dir / "jobs" / f"{stage.name}.{job.name}"
        for sub in ("a", "b", "_temp", "s"):
            (job_dir / sub).mkdir(parents=True, exist_ok=True)
        job_vars.set("Build.ArtifactStagingDirectory", str(job_dir / "a"))
        job_vars.set("Build.StagingDirectory", str(job_dir / "a"))
        job_vars.set("Build.BinariesDirectory", str(job_dir / "b"))
        job_vars.set("Agent.TempDirectory", str(job_dir / "_temp"))
        job_vars.set("Pipeline.Workspace", str(job_dir))
        job_vars.set("Agent.BuildDirectory", str(job_dir))
        job_vars.set("System.JobName", job.name)
        job_vars.set("System.JobDisplayName", job.display)
        if job.environment:
            job_vars.set("Environment.Name", job.environment)
        state = _JobState(
            job, record, job_vars, job_dir, time.monotonic() + job.timeout_minutes * 60
        )
        for step in job.steps:
            self._run_step(state, step)
        hooks = job.on_failure if state.failed else job.on_success
        for step in hooks:
            self._run_step(state, step)
        step_results = [s.result for s in record.steps]
        if state.failed:
            record.result = "Failed"
        elif "SucceededWithIssues" in step_results:
            record.result = "SucceededWithIssues"
        else:
            record.result = "Succeeded"
        results[job.name] = record.result
        self.outputs[stage.name][job.name] = dict(record.outputs)
        if job.deployment and job.environment:
            self._record_environment(job, record)
        self.display.job_finished(record)

    def _record_environment(self, job: Job, record: JobRecord) -> None:
        path = self.home / "ado" / "environments.json"
        data = json.loads(path.read_text()) if path.is_file() else {}
        data.setdefault(job.environment, []).append(
            {
                "pipeline": self.record.pipeline,
                "run": self.record.run_id,
                "stage": record.stage,
                "job": job.name,
                "result": record.result,
                "at": datetime.now(UTC).isoformat(timespec="seconds"),
            }
        )
        path.write_text(json.dumps(data, indent=2) + "\n")

    def _run_step(self, state: _JobState, step: Step) -> None:
        node = step.node
        # Macros in display names are replaced like everywhere else in a step.
        record = StepRecord(state.variables.expand(step.display), step.name, step.where)
        state.record.steps.append(record)
        if str(node.get("enabled", "true")).lower() == "false":
            record.result, record.reason = "Skipped", "enabled: false"
            return
        if time.monotonic() > state.deadline:
            record.result, record.reason = "Skipped", "job timed out"
            return

        def status(name: str, names: tuple[str, ...]) -> bool:
            if name == "succeeded":
                return not state.failed
            if name == "failed":
                return state.failed
            return name in ("succeededorfailed", "always")

        condition = str(node.get("condition") or "succeeded()")
        values = {"variables": state.variables.mapping()}
        if not ex.to_bool(self._evaluate(condition, values, status, node, "step condition")):
            record.result, record.reason = "Skipped", f"condition {condition} was false"
            self.display.step_finished(state.record, record, [])
            return
        self.display.step_started(state.record, record)
        started = time.monotonic()
        tail: list[str] = []
        try:
            ok, tail = self._execute(state, step, record)
        except MlopsError as exc:
            ok, tail = False, [str(exc)]
            record.reason = str(exc)
        record.seconds = round(time.monotonic() - started, 2)
        continue_on_error = str(node.get("continueOnError", "false")).lower() == "true"
        if ok:
            record.result = "Succeeded"
        elif continue_on_error:
            record.result = "SucceededWithIssues"
        else:
            record.result = "Failed"
            state.failed = True
        self.display.step_finished(state.record, record, tail if not ok else [])

    # Step kinds -------------------------------------------------------------------------

    def _execute(self, state: _JobState, step: Step, record: StepRecord) -> tuple[bool, list[str]]:
        node, v = step.node, state.variables
        kind = step.kind
        if kind == "checkout":
            return True, []  # checkout: self is the working tree (Build.SourcesDirectory)
        if kind in ("script", "bash"):
            if venv_cache.applies(step):
                return self._venv(state, step, record)
            return self._bash(state, step, record, str(node[kind]), {})
        if kind == "publish":
            return self._publish(
                v.expand(str(node["publish"])),
                v.expand(str(node.get("artifact") or "drop")),
                record,
            )
        if kind == "download":
            artifact = node.get("artifact")
            target = Path(v.get("Pipeline.Workspace") or ".")
            return self._download(
                str(artifact) if artifact else None, target, record, into_subfolder=True
            )
        task = str(node["task"]).casefold()
        inputs = {str(k): v.expand(ex.to_str(val)) for k, val in (node.get("inputs") or {}).items()}
        if task == "azurecli@2":
            return self._azure_cli(state, step, record, inputs)
        if task == "publishpipelineartifact@1":
            path = (
                inputs.get("targetPath") or inputs.get("path") or v.get("Pipeline.Workspace") or ""
            )
            artifact = (
                inputs.get("artifact") or inputs.get("artifactName") or f"Job_{state.job.name}"
            )
            return self._publish(path, artifact, record)
        if task == "downloadpipelineartifact@2":
            source = inputs.get("source") or inputs.get("buildType") or "current"
            if source != "current":
                raise MlopsError(
                    f"DownloadPipelineArtifact@2 source {source!r}: only current is emulated"
                )
            target = Path(
                inputs.get("targetPath") or inputs.get("path") or v.get("Pipeline.Workspace") or "."
            )
            artifact = inputs.get("artifact") or inputs.get("artifactName")
            return self._download(artifact or None, target, record, into_subfolder=not artifact)
        if task == "usepythonversion@0":
            return _use_python(inputs.get("versionSpec", "3.x"))
        raise MlopsError(f"task {node['task']} is not emulated")  # check_supported stops it sooner

    def _azure_cli(
        self, state: _JobState, step: Step, record: StepRecord, inputs: dict[str, str]
    ) -> tuple[bool, list[str]]:
        connection = inputs.get("azureSubscription") or inputs.get("connectedServiceNameARM")
        if not connection:
            raise MlopsError("AzureCLI@2 needs azureSubscription (the service connection)")
        location = inputs.get(
            "scriptLocation", "scriptPath" if inputs.get("scriptPath") else "inlineScript"
        )
        if location == "inlineScript":
            script = inputs.get("inlineScript", "")
        else:
            path = Path(inputs.get("scriptPath", ""))
            if not path.is_absolute():
                path = self.root / path
            if not path.is_file():
                raise MlopsError(f"AzureCLI@2 scriptPath {path} not found")
            script = f'bash "{path}" {inputs.get("arguments", "")}\n'
        # What the task exports for a workload identity federation connection
        # (azure-pipelines-tasks Tasks/AzureCLIV2: AZURESUBSCRIPTION_* since 2.227).
        extra = {
            "AZURESUBSCRIPTION_SERVICE_CONNECTION_ID": connection,
            "AZURESUBSCRIPTION_CLIENT_ID": "00000000-0000-0000-0000-00000000c11e",
            "AZURESUBSCRIPTION_TENANT_ID": "00000000-0000-0000-0000-0000000a2ad0",
            "MLOPS_ADO_SERVICE_CONNECTION": connection,
        }
        if inputs.get("addSpnToEnvironment", "false").lower() == "true":
            extra.update(
                servicePrincipalId=extra["AZURESUBSCRIPTION_CLIENT_ID"],
                tenantId=extra["AZURESUBSCRIPTION_TENANT_ID"],
                idToken="emulated",
            )
        workdir = inputs.get("workingDirectory")
        return self._bash(state, step, record, script, extra, workdir)

    def _venv(self, state: _JobState, step: Step, record: StepRecord) -> tuple[bool, list[str]]:
        """templates/python-venv.yml: built once per key, then reused (venv_cache.py says why)."""
        v = state.variables
        env = {str(k): v.expand(ex.to_str(val)) for k, val in (step.node.get("env") or {}).items()}
        script = str(step.node["bash"])
        cache_key = venv_cache.key(script, env, self.root)
        job_venv = Path(env.get("VENV") or Path(v.get("Agent.TempDirectory") or ".") / "venv")
        with venv_cache.slot(self.home, cache_key) as (target, built):
            if built:
                state.counter += 1
                lines = [
                    f"venv of the pinned set reused: {target} (key {cache_key[:12]}, built by "
                    "this template's script in an earlier job; mlops/ado/venv_cache.py)",
                    f"##vso[task.prependpath]{target / 'bin'}",
                ]
                log_file = self._log_file(state)
                log_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
                record.log = str(log_file)
                state.prepended.append(str(target / "bin"))
                tail = lines
            else:
                ok, tail = self._bash(
                    state, step, record, script, {}, overrides={"VENV": str(target)}
                )
                if not ok:
                    venv_cache.discard(target)
                    return ok, tail
                venv_cache.mark_built(target, cache_key, env.get("REQUIREMENTS", ""))
        venv_cache.link(job_venv, target)
        return True, tail

    def _log_file(self, state: _JobState) -> Path:
        log_dir = self.run_dir / "logs"
        log_dir.mkdir(exist_ok=True)
        return log_dir / f"{state.record.stage}.{state.job.name}.{state.counter:02d}.log"

    def _bash(
        self,
        state: _JobState,
        step: Step,
        record: StepRecord,
        script: str,
        extra: Mapping[str, str],
        workdir: str | None = None,
        overrides: Mapping[str, str] | None = None,
    ) -> tuple[bool, list[str]]:
        node, v = step.node, state.variables
        script = v.expand(script)
        state.counter += 1
        script_file = state.job_dir / "_temp" / f"step-{state.counter:02d}.sh"
        script_file.write_text(script, encoding="utf-8")
        log_file = self._log_file(state)
        record.log = str(log_file)
        cwd = Path(
            v.expand(
                str(
                    workdir
                    or node.get("workingDirectory")
                    or v.get("System.DefaultWorkingDirectory")
                )
            )
        )
        if not cwd.is_dir():
            raise MlopsError(f"workingDirectory {cwd} does not exist")
        env = self._environment(state, extra)
        for key, value in (node.get("env") or {}).items():
            env[str(key)] = v.expand(ex.to_str(value))
        env.update(overrides or {})
        timeout = _step_timeout(node, state.deadline)
        proc = subprocess.Popen(
            ["bash", "--noprofile", "--norc", str(script_file)],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        lines: queue.Queue[bytes | None] = queue.Queue()

        def pump() -> None:
            assert proc.stdout is not None
            for raw in iter(proc.stdout.readline, b""):
                lines.put(raw)
            lines.put(None)

        reader = threading.Thread(target=pump, daemon=True)
        reader.start()
        tail: list[str] = []
        deadline = time.monotonic() + timeout
        timed_out = False
        completed: str | None = None
        with open(log_file, "w", encoding="utf-8") as handle, _stop_on_exit(proc):
            while True:
                remaining = deadline - time.monotonic()
                try:
                    raw = lines.get(timeout=max(0.05, min(remaining, 1.0)))
                except queue.Empty:
                    if time.monotonic() > deadline:
                        timed_out = True
                        _kill_group(proc)
                        break
                    continue
                if raw is None:
                    break
                text = raw.decode("utf-8", errors="replace").rstrip("\n")
                shown = self._mask(state, text)
                handle.write(shown + "\n")
                tail = [*tail[-(TAIL_LINES - 1) :], shown]
                command = vso.parse(text)
                if command is not None:
                    completed = self._command(state, step, record, command) or completed
        code = proc.wait()
        reader.join(timeout=5)
        if timed_out:
            minutes = node.get("timeoutInMinutes")
            record.reason = f"timed out after {minutes} minutes" if minutes else "job timed out"
            tail.append(f"##[error]The step {record.reason}")
            return False, tail
        if completed == "failed":
            record.reason = "task.complete result=Failed"
            return False, tail
        if code != 0:
            record.reason = f"bash exited with code {code}"
            tail.append(f"##[error]Bash exited with code '{code}'.")
            return False, tail
        return True, tail

    def _mask(self, state: _JobState, text: str) -> str:
        for folded in state.variables.secrets:
            value = state.variables.get(folded)
            if value:
                text = text.replace(value, "***")
        return text

    def _environment(self, state: _JobState, extra: Mapping[str, str]) -> dict[str, str]:
        base = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("AZURESUBSCRIPTION_", "SYSTEM_", "BUILD_", "AGENT_"))
        }
        env = {**base, **state.variables.environment(), **extra}
        path = [
            *reversed(state.prepended),
            str(self.bin_dir),
            os.environ.get("PATH", "/usr/bin:/bin"),
        ]
        env["PATH"] = os.pathsep.join(path)
        env["MLOPS_HOME"] = str(self.home)
        env["MLOPS_AZURE_EMULATOR"] = str(self.home / "azure")
        env["MLOPS_ADO_RUN_DIR"] = str(self.run_dir)
        env["PYTHONUNBUFFERED"] = "1"
        if self.zygote is not None:
            env.update(self.zygote.env())
        return env

    def _command(
        self, state: _JobState, step: Step, record: StepRecord, command: vso.LoggingCommand
    ) -> str | None:
        if command.name == "task.setvariable":
            name = command.props.get("variable")
            if not name:
                return None
            secret = command.flag("issecret")
            if command.flag("isoutput"):
                if not step.name:
                    record.issues.append(
                        {
                            "type": "warning",
                            "message": f"output variable {name} set by a step without a "
                            "name: not readable by other jobs",
                        }
                    )
                    return None
                key = f"{step.name}.{name}"
                state.variables.set(key, command.message, secret)
                prefix = f"{state.job.name}." if state.job.deployment else ""
                state.record.outputs[f"{prefix}{key}"] = command.message
            else:
                state.variables.set(name, command.message, secret)
            return None
        if command.name == "task.logissue":
            issue = {"type": command.props.get("type", "warning"), "message": command.message}
            record.issues.append(issue)
            return None
        if command.name == "task.prependpath":
            state.prepended.append(command.message.strip())
            return None
        if command.name == "task.complete":
            result = command.props.get("result", "Succeeded").lower()
            return "failed" if result == "failed" else None
        return None

    def _publish(self, path: str, artifact: str, record: StepRecord) -> tuple[bool, list[str]]:
        source = Path(path)
        target = self.artifacts / artifact
        if target.exists():
            raise MlopsError(
                f"artifact {artifact} already exists in this run (names are unique per run)"
            )
        if not source.exists():
            raise MlopsError(f"publish: path {source} does not exist")
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target)
        else:
            target.mkdir()
            shutil.copy2(source, target / source.name)
        self.record.artifacts.append(artifact)
        return True, [f"published {source} as artifact {artifact}"]

    def _download(
        self, artifact: str | None, target: Path, record: StepRecord, into_subfolder: bool
    ) -> tuple[bool, list[str]]:
        names = (
            [artifact]
            if artifact
            else sorted(p.name for p in self.artifacts.glob("*") if p.is_dir())
        )
        for name in names:
            source = self.artifacts / name
            if not source.is_dir():
                raise MlopsError(f"artifact {name} was not published in this run")
            dest = target / name if into_subfolder else target
            shutil.copytree(source, dest, dirs_exist_ok=True)
        return True, [f"downloaded {', '.join(names) or 'no artifacts'} to {target}"]


@dataclass
class _JobState:
    job: Job
    record: JobRecord
    variables: Variables
    job_dir: Path
    deadline: float
    failed: bool = False
    counter: int = 0
    prepended: list[str] = field(default_factory=list)


def _calls_azure(plan_: Plan) -> bool:
    """An AzureCLI@2 step: the run calls az and the `python -m mlops azure` helpers."""
    return any(
        step.kind == "task" and str(step.node.get("task", "")).casefold() == "azurecli@2"
        for stage in plan_.stages
        for job in stage.jobs
        for step in job.steps
    )


def _no_status(name: str, names: tuple[str, ...]) -> bool:
    raise ExpressionError(f"{name}() is only allowed in conditions")


def _step_timeout(node: Node, job_deadline: float) -> float:
    left = max(0.0, job_deadline - time.monotonic())
    raw = node.get("timeoutInMinutes")
    if raw in (None, "", 0, "0"):
        return left
    try:
        minutes = float(raw)
    except (TypeError, ValueError):
        raise MlopsError(f"timeoutInMinutes {raw!r} is not a number") from None
    return min(left, minutes * 60)


@contextlib.contextmanager
def _stop_on_exit(proc: subprocess.Popen[bytes]) -> Iterator[None]:
    """A Ctrl-C or TERM of the run also stops the step's process group."""
    try:
        yield
    except BaseException:
        _kill_group(proc)
        raise


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=5)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)


def _use_python(spec: str) -> tuple[bool, list[str]]:
    """UsePythonVersion@0 as a check: the agent's Python must satisfy ``versionSpec``."""
    have = sys.version_info
    text = spec.strip()
    match = re.match(r"^(>=)?\s*(\d+)(?:\.(\d+|x))?", text)
    if match is None:
        raise MlopsError(f"UsePythonVersion@0 versionSpec {spec!r} is not understood here")
    major = int(match.group(2))
    minor = match.group(3)
    if match.group(1):
        ok = (have.major, have.minor) >= (major, int(minor or 0))
    else:
        ok = have.major == major and (minor in (None, "x") or have.minor == int(minor))
    found = f"{have.major}.{have.minor}.{have.micro}"
    if not ok:
        return False, [f"##[error]Version spec {spec} not satisfied: the agent has Python {found}"]
    return True, [f"Python {found} satisfies {spec}"]


def run_pipeline(
    path: Path, options: RunOptions, display: Display | None = None, root: Path | None = None
) -> RunRecord:
    """Compile and run ``path``; returns the record (result Failed when a job failed)."""
    compiled = compile_pipeline(path, options.params, root)
    runner = Runner(compiled, options, display)
    # Recompile with the run's predefined variables visible to ${{ variables.* }}.
    compiled = compile_pipeline(path, options.params, root, predefined=runner.predefined())
    runner.compiled = compiled
    runner.plan = plan(compiled)
    return runner.run()
