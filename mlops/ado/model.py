"""A compiled pipeline as stages, jobs and steps, with Azure DevOps' defaults filled in.

Defaults (https://learn.microsoft.com/en-us/azure/devops/pipelines/process/stages,
.../process/phases, .../process/deployment-jobs, .../process/conditions):
a pipeline of jobs is one implicit stage, a pipeline of steps one implicit job; a stage
without ``dependsOn`` depends on the stage before it, a job on nothing; the default
condition is ``succeeded()``; a deployment job runs the ``runOnce`` lifecycle hooks in
order (preDeploy, deploy, routeTraffic, postRouteTraffic, then on.success/on.failure).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mlops.ado.errors import AdoError
from mlops.ado.expand import Compiled, Node

STEP_KINDS = ("script", "bash", "pwsh", "powershell", "task", "checkout", "download", "publish")
RUN_ONCE_HOOKS = ("preDeploy", "deploy", "routeTraffic", "postRouteTraffic")


@dataclass
class Step:
    node: Node
    index: int
    hook: str | None = None  # runOnce hook of a deployment job

    @property
    def kind(self) -> str:
        return next((k for k in STEP_KINDS if k in self.node), "unknown")

    @property
    def name(self) -> str | None:
        value = self.node.get("name")
        return str(value) if value else None

    @property
    def display(self) -> str:
        if self.node.get("displayName"):
            return str(self.node["displayName"])
        if self.kind == "task":
            return str(self.node["task"])
        if self.kind in ("checkout", "download", "publish"):
            return f"{self.kind}: {self.node[self.kind]}"
        first = str(self.node.get(self.kind, "")).strip().splitlines()
        return f"{self.kind}: {first[0][:60]}" if first else self.kind

    @property
    def where(self) -> str:
        return f"{self.node.file}:{self.node.line}"


@dataclass
class Job:
    name: str
    display: str
    node: Node
    depends_on: list[str]
    condition: str | None
    variables: list[Any]
    steps: list[Step]
    deployment: bool = False
    environment: str | None = None
    timeout_minutes: float = 60.0
    on_success: list[Step] = field(default_factory=list)
    on_failure: list[Step] = field(default_factory=list)


@dataclass
class Stage:
    name: str
    display: str
    node: Node
    depends_on: list[str]
    condition: str | None
    variables: list[Any]
    jobs: list[Job]


@dataclass
class Plan:
    compiled: Compiled
    variables: list[Any]
    stages: list[Stage]


def _names(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v) for v in value]
    if value == "":
        return []
    return [str(value)]


def _steps(node: Any, where: Node, hook: str | None = None) -> list[Step]:
    if node is None:
        return []
    if not isinstance(node, list):
        raise AdoError(where.file, where.line, "steps must be a list")
    steps = []
    for index, item in enumerate(node):
        if not isinstance(item, Node):
            raise AdoError(where.file, where.line, f"step {index + 1} is not a mapping")
        steps.append(Step(item, index, hook))
    return steps


def _timeout(node: Node) -> float:
    # A job's default timeout is 60 minutes (https://learn.microsoft.com/en-us/azure/devops/
    # pipelines/process/phases#timeouts); 0 means the maximum, which is unlimited on
    # self-hosted agents.
    raw = node.get("timeoutInMinutes")
    if raw in (None, ""):
        return 60.0
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise AdoError(node.file, node.line, f"timeoutInMinutes {raw!r} is not a number") from None
    return value if value > 0 else float("inf")


def _job(node: Node) -> Job:
    if "template" in node:
        raise AdoError(node.file, node.line, "unexpanded template reference")
    deployment = "deployment" in node
    name = str(node.get("deployment") if deployment else node.get("job") or "__default")
    on_success: list[Step] = []
    on_failure: list[Step] = []
    if deployment:
        strategy = node.get("strategy") or {}
        if set(strategy) - {"runOnce"}:
            other = next(iter(set(strategy) - {"runOnce"}))
            raise AdoError(
                node.file,
                node.line,
                f"deployment strategy {other} is not supported here (runOnce only)",
            )
        run_once = strategy.get("runOnce") or {}
        steps: list[Step] = []
        for hook in RUN_ONCE_HOOKS:
            body = run_once.get(hook) or {}
            steps.extend(_steps(body.get("steps"), node, hook))
        on = run_once.get("on") or {}
        on_success = _steps((on.get("success") or {}).get("steps"), node, "on.success")
        on_failure = _steps((on.get("failure") or {}).get("steps"), node, "on.failure")
        environment = node.get("environment")
        if isinstance(environment, dict):
            environment = environment.get("name")
        env_name = str(environment) if environment else None
        if env_name is None:
            raise AdoError(node.file, node.line, f"deployment {name} names no environment")
    else:
        if "strategy" in node:
            raise AdoError(
                node.file,
                node.line,
                f"job {name}: strategy (matrix/parallel) is not supported here",
            )
        steps = _steps(node.get("steps"), node)
        env_name = None
    return Job(
        name=name,
        display=str(node.get("displayName") or name),
        node=node,
        depends_on=_names(node.get("dependsOn")),
        condition=str(node["condition"]) if node.get("condition") not in (None, "") else None,
        variables=list(node.get("variables") or []),
        steps=steps,
        deployment=deployment,
        environment=env_name,
        timeout_minutes=_timeout(node),
        on_success=on_success,
        on_failure=on_failure,
    )


def plan(compiled: Compiled) -> Plan:
    """Stages and jobs of a compiled pipeline, defaults applied and dependencies checked."""
    doc = compiled.doc
    if "stages" in doc:
        stage_nodes = list(doc["stages"] or [])
    elif "jobs" in doc:
        implicit = Node(stage="__default", jobs=doc["jobs"])
        implicit.file, implicit.line = doc.file, doc.line
        stage_nodes = [implicit]
    elif "steps" in doc:
        job = Node(job="__default", steps=doc["steps"])
        job.file, job.line = doc.file, doc.line
        implicit = Node(stage="__default", jobs=[job])
        implicit.file, implicit.line = doc.file, doc.line
        stage_nodes = [implicit]
    else:
        raise AdoError(doc.file, 1, "the pipeline has no stages, jobs or steps")
    stages: list[Stage] = []
    previous: str | None = None
    for node in stage_nodes:
        if "template" in node:
            raise AdoError(node.file, node.line, "unexpanded template reference")
        name = str(node.get("stage") or "__default")
        depends = _names(node["dependsOn"]) if "dependsOn" in node else _names(previous)
        jobs = [_job(j) for j in node.get("jobs") or []]
        stage = Stage(
            name=name,
            display=str(node.get("displayName") or name),
            node=node,
            depends_on=depends,
            condition=str(node["condition"]) if node.get("condition") not in (None, "") else None,
            variables=list(node.get("variables") or []),
            jobs=jobs,
        )
        names = [j.name for j in jobs]
        for job in jobs:
            if names.count(job.name) > 1:
                raise AdoError(
                    job.node.file, job.node.line, f"job {job.name} is defined twice in stage {name}"
                )
            for dep in job.depends_on:
                if dep not in names:
                    raise AdoError(
                        job.node.file, job.node.line, f"job {job.name} depends on unknown job {dep}"
                    )
        stages.append(stage)
        previous = name
    stage_names = [s.name for s in stages]
    for stage in stages:
        if stage_names.count(stage.name) > 1:
            raise AdoError(stage.node.file, stage.node.line, f"stage {stage.name} is defined twice")
        for dep in stage.depends_on:
            if dep not in stage_names:
                raise AdoError(
                    stage.node.file,
                    stage.node.line,
                    f"stage {stage.name} depends on unknown stage {dep}",
                )
    return Plan(compiled, list(doc.get("variables") or []), stages)


def order(items: list[Any]) -> list[Any]:
    """Dependency order (declaration order among independent items); a cycle is an error."""
    done: list[Any] = []
    names = {item.name for item in items}
    pending = list(items)
    while pending:
        ready = [
            i
            for i in pending
            if all(d in {x.name for x in done} for d in i.depends_on if d in names)
        ]
        if not ready:
            item = pending[0]
            raise AdoError(item.node.file, item.node.line, f"{item.name}: dependsOn forms a cycle")
        done.append(ready[0])
        pending.remove(ready[0])
    return done
