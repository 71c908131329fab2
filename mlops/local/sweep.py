"""Sweep nodes, the whole job type in one module: the trials a search space and sampling
algorithm ask for, the planner that turns a node into a step, and the executor that runs
the trials (registered in ``PLANNERS`` and ``EXECUTORS`` on import).

Distributions follow azure-ai-ml 1.35.2 azure/ai/ml/entities/_job/sweep/search_space.py
(the log* forms take exponents: ``loguniform(min_value, max_value)`` is
``exp(uniform(min_value, max_value))``; q* forms round to a multiple of ``q``). Grid
sampling takes only ``choice``; bayesian sampling has no local engine and falls back to
random, with a warning. Trials run one after another; ``max_concurrent_trials`` is ignored.
"""

from __future__ import annotations

import itertools
import logging
import math
import random
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from mlops.amlspec.files import YDict
from mlops.amlspec.model import Node
from mlops.errors import MlopsError
from mlops.local.pipeline import PLANNERS, Step, SweepSpec, _Planner, _runnable, _Scope
from mlops.local.runner import (
    EXECUTORS,
    SilentDisplay,
    StepResult,
    _execute,
    _publish,
    _Run,
    _tail,
)

log = logging.getLogger(__name__)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _seconds(value: Any) -> float | None:
    return None if value is None else float(value)


def sweep_spec(node: Node, where: str) -> SweepSpec:
    """The sweep settings of a node (the rules already checked their shape)."""
    doc = node.doc
    sampling = doc.get("sampling_algorithm", "random")
    kind = str(sampling.get("type") if isinstance(sampling, YDict) else sampling).lower()
    seed = sampling.get("seed") if isinstance(sampling, YDict) else None
    if kind == "bayesian":
        log.warning("%s: bayesian sampling has no local engine; sampling at random instead", where)
        kind = "random"
    objective = doc.get("objective") or {}
    limits = doc.get("limits") if isinstance(doc.get("limits"), YDict) else {}
    if doc.get("early_termination") is not None:
        log.warning("%s: early_termination is ignored locally (every trial runs)", where)
    total = limits.get("max_total_trials")
    space = _plain(doc.get("search_space") or {})
    if kind == "random" and total is None:
        raise MlopsError(f"{where}: random sampling needs limits.max_total_trials locally")
    return SweepSpec(
        search_space=space,
        sampling=kind,
        seed=None if seed is None else int(seed),
        goal=str(objective.get("goal", "minimize")).lower(),
        metric=str(objective.get("primary_metric")),
        max_total_trials=None if total is None else int(total),
        timeout=_seconds(limits.get("timeout")),
        trial_timeout=_seconds(limits.get("trial_timeout")),
    )


def _sample(dist: dict[str, Any], rng: random.Random) -> Any:
    kind = dist["type"]
    if kind == "choice":
        return rng.choice(list(dist["values"]))
    if kind == "randint":
        return rng.randrange(int(dist["upper"]))
    if kind in ("uniform", "loguniform", "quniform", "qloguniform"):
        value = rng.uniform(float(dist["min_value"]), float(dist["max_value"]))
    else:
        value = rng.gauss(float(dist["mu"]), float(dist["sigma"]))
    if kind.startswith("qlog") or kind in ("loguniform", "lognormal"):
        value = math.exp(value)
    if kind.startswith("q"):
        value = round(value / float(dist["q"])) * float(dist["q"])
    return value


def trials(spec: SweepSpec) -> list[dict[str, Any]]:
    """The parameter sets to try, in order."""
    space: dict[str, dict[str, Any]] = spec.search_space
    if spec.sampling == "grid":
        names = list(space)
        grid = [
            dict(zip(names, combo, strict=True))
            for combo in itertools.product(*(list(space[n]["values"]) for n in names))
        ]
        return grid[: spec.max_total_trials] if spec.max_total_trials else grid
    rng = random.Random(spec.seed)
    return [{n: _sample(d, rng) for n, d in space.items()} for _ in range(spec.max_total_trials)]


def best(results: list[tuple[int, float | None]], goal: str) -> int | None:
    """Index of the best trial by the objective (trials without the metric are ignored)."""
    scored = [(value, index) for index, value in results if value is not None]
    if not scored:
        return None
    pick = min if goal == "minimize" else max
    return pick(scored)[1]


def plan_sweep(planner: _Planner, node: Node, scope: _Scope, where: str) -> None:
    component = _runnable(node, where)
    step = Step(
        scope.prefix + node.name,
        component,
        planner.inputs_of(node, scope, where),
        node,
        kind="sweep",
        sweep=sweep_spec(node, where),
    )
    planner.add_step(step, scope, set(component.outputs))


def run_sweep(run: _Run, step: Step, step_result: StepResult) -> None:
    """A sweep node: each trial is a child run of the sweep's run; the best trial's outputs
    become the sweep's outputs (Azure ML: the sweep node's outputs are the best trial's)."""
    spec = step.sweep
    assert spec is not None
    sweep_run = run.tracking.start(step.name, {"sweep": "true"}, parent=run.parent)
    step_result.mlflow_run_id = sweep_run
    step_result.state = "running"
    run.display.step_started(step_result)
    started = time.monotonic()
    scores: list[tuple[int, float | None]] = []
    done: dict[int, dict[str, Path]] = {}
    params = trials(spec)
    quiet = SilentDisplay()
    for index, trial in enumerate(params):
        if spec.timeout is not None and time.monotonic() - started > spec.timeout:
            log.warning("%s: limits.timeout reached after %d trials", step.name, index)
            break
        try:
            coerced = {
                n: step.component.inputs[n].coerce(v, f"{step.name} search_space.{n}")
                for n, v in trial.items()
            }
        except MlopsError as exc:
            step_result.cause = str(exc)
            break
        trial_step = replace(
            step, name=f"{step.name}/trial_{index}", bindings={**step.bindings, **coerced}
        )
        trial_result = StepResult(trial_step.name)
        saved = run.display
        run.display = quiet
        try:
            outputs = _execute(
                run, trial_step, trial_result, sweep_run, run.result.run_dir / trial_step.name
            )
        finally:
            run.display = saved
        metric = None
        if outputs is not None and trial_result.mlflow_run_id:
            trial_run = run.tracking.client.get_run(trial_result.mlflow_run_id)
            metric = trial_run.data.metrics.get(spec.metric)
            for name, value in coerced.items():
                run.tracking.client.log_param(trial_result.mlflow_run_id, name, value)
            done[index] = outputs
        step_result.trials.append(
            {"params": coerced, spec.metric: metric, "state": trial_result.state}
        )
        scores.append((index, metric))
    winner = best(scores, spec.goal)
    step_result.seconds = time.monotonic() - started
    logs = run.result.run_dir / "logs"
    step_result.log = logs / f"{step.name}.log"
    step_result.log.parent.mkdir(parents=True, exist_ok=True)
    lines = [
        f"trial {i}: {t['params']} {spec.metric}={t[spec.metric]} ({t['state']})"
        for i, t in enumerate(step_result.trials)
    ]
    if winner is None:
        step_result.state = "failed"
        step_result.cause = step_result.cause or (
            f"no trial of {len(step_result.trials)} reported the primary metric '{spec.metric}'"
        )
        lines.append(f"error: {step_result.cause}")
    else:
        step_result.state = "succeeded"
        step_result.best_trial = winner
        best_value = scores[[i for i, _ in scores].index(winner)][1]
        run.tracking.client.log_param(sweep_run, "best_trial", winner)
        run.tracking.client.log_metric(sweep_run, spec.metric, float(best_value))
        for name, value in step_result.trials[winner]["params"].items():
            run.tracking.client.log_param(sweep_run, name, value)
        lines.append(f"best: trial {winner} ({spec.goal} {spec.metric}={best_value})")
        _publish(run, step, done[winner])
    step_result.log.write_text("\n".join(lines) + "\n")
    run.tracking.finish(sweep_run, winner is not None)
    tail = _tail(step_result.log)
    run.display.step_finished(step_result, tail if winner is None else [])


PLANNERS["sweep"] = plan_sweep
EXECUTORS["sweep"] = run_sweep
