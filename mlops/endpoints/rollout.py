"""Blue/green rollout of an online endpoint: the decisions as pure functions, and the loop.

An endpoint has two deployments, ``blue`` and ``green``. The new version goes to the idle
colour at 0% traffic and is smoke-tested there (the ``azureml-model-deployment`` header
routes a request to one colour whatever the traffic); then it takes traffic in the
release's steps (say 10 -> 50 -> 100), with a smoke test of the new colour and of the
endpoint as a whole after each. Any failure (deploy, traffic change or smoke test) puts
the traffic back to what it was before the rollout, so the old deployment keeps serving.
After the last step the old colour stays deployed at 0%: the next rollout replaces it,
and until then a rollback is one traffic change.

``plan_rollout`` and ``decide`` hold every decision; ``run_rollout`` only applies them
through an :class:`Executor` (Azure: ``mlops.endpoints.azure_rollout``; local twin:
``mlops.endpoints.local_endpoint``).
"""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from mlops.endpoints.smoke import SmokeResult
from mlops.errors import MlopsError

logger = logging.getLogger(__name__)

COLOURS = ("blue", "green")
Action = Literal["shift", "done", "rollback"]


class RolloutError(MlopsError):
    """The endpoint is in a state a rollout cannot start from, or a plan is malformed."""


@dataclass(frozen=True)
class Plan:
    """What a rollout will do: ``stages[k]`` is the traffic after step ``k + 1``."""

    live: str | None  # colour serving before the rollout; None for a first deployment
    target: str  # idle colour that receives the new version
    before: dict[str, int]  # traffic to restore on any failure
    stages: tuple[dict[str, int], ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "live": self.live,
            "target": self.target,
            "before": self.before,
            "stages": [dict(s) for s in self.stages],
        }


@dataclass(frozen=True)
class RolloutStep:
    """The next step of a rollout after one stage's smoke test: shift, roll back or done.

    Not the gate's ``taxi_fare.gate.Decision`` (promote a model or not): this one moves traffic.
    """

    action: Action
    traffic: dict[str, int]  # traffic to set (shift, rollback) or now in place (done)
    reason: str


def parse_traffic(text: str) -> dict[str, int]:
    """Traffic as ``az ml online-endpoint show --query traffic`` prints it (JSON) or
    ``blue=90,green=10``; an empty string or ``{}`` is an endpoint with no deployments."""
    text = text.strip()
    if not text or text in ("{}", "null"):
        return {}
    if text.startswith("{"):
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            raise RolloutError(f"traffic {text!r} is not valid JSON ({exc.msg})") from None
    else:
        raw = {}
        for part in text.split(","):
            name, sep, value = part.partition("=")
            if not sep:
                raise RolloutError(f"traffic entry {part!r} is not colour=percent")
            raw[name.strip()] = value.strip()
    traffic: dict[str, int] = {}
    for name, value in raw.items():
        try:
            traffic[str(name)] = int(value)
        except (TypeError, ValueError):
            raise RolloutError(f"traffic of {name!r} is {value!r}, not an integer") from None
    return traffic


def check_traffic(traffic: Mapping[str, int]) -> None:
    """Refuse traffic a blue/green endpoint cannot have: other names, bad sums, splits."""
    unknown = sorted(set(traffic) - set(COLOURS))
    if unknown:
        raise RolloutError(
            f"endpoint has deployments {', '.join(unknown)}; blue/green rollout manages "
            f"only {' and '.join(COLOURS)}"
        )
    for colour, pct in traffic.items():
        if not 0 <= pct <= 100:
            raise RolloutError(f"traffic of {colour} is {pct}%, outside 0..100")
    total = sum(traffic.values())
    if total not in (0, 100):
        raise RolloutError(f"traffic adds up to {total}%, expected 100 (or 0 when nothing serves)")


def live_colour(traffic: Mapping[str, int]) -> str | None:
    """The colour taking all traffic; None when nothing serves. A split is refused: a
    rollout never leaves one behind, so it means someone changed traffic by hand."""
    check_traffic(traffic)
    serving = [c for c in COLOURS if traffic.get(c, 0) > 0]
    if not serving:
        return None
    if len(serving) > 1:
        shown = ", ".join(f"{c}={traffic[c]}%" for c in serving)
        raise RolloutError(f"traffic is split ({shown}); set one colour to 100% before a rollout")
    return serving[0]


def check_steps(steps: Sequence[int]) -> tuple[int, ...]:
    """Traffic steps: strictly increasing percentages from 1 to 100, ending at 100."""
    steps = tuple(steps)
    if not steps:
        raise RolloutError("rollout steps are empty; give percentages ending at 100")
    for step in steps:
        if isinstance(step, bool) or not isinstance(step, int) or not 1 <= step <= 100:
            raise RolloutError(f"rollout step {step!r} is not a percentage from 1 to 100")
    if any(b <= a for a, b in itertools.pairwise(steps)):
        raise RolloutError(f"rollout steps {list(steps)} are not strictly increasing")
    if steps[-1] != 100:
        raise RolloutError(f"rollout steps {list(steps)} must end at 100")
    return steps


def plan_rollout(traffic: Mapping[str, int], steps: Sequence[int]) -> Plan:
    """The colour to deploy to and the traffic after each step.

    First deployment (nothing serves): blue takes 100% in one step, as there is no old
    deployment to share traffic with.
    """
    steps = check_steps(steps)
    live = live_colour(traffic)
    before = {c: int(traffic.get(c, 0)) for c in COLOURS if c in traffic}
    if live is None:
        return Plan(live=None, target=COLOURS[0], before=before, stages=({COLOURS[0]: 100},))
    target = COLOURS[1] if live == COLOURS[0] else COLOURS[0]
    stages = tuple({target: pct, live: 100 - pct} for pct in steps)
    return Plan(live=live, target=target, before=before, stages=stages)


def decide(plan: Plan, stage: int, passed: bool, detail: str = "") -> RolloutStep:
    """After the smoke test of ``stage`` (0: the new colour at 0% traffic; k: after step k)."""
    if not 0 <= stage <= len(plan.stages):
        raise RolloutError(f"stage {stage} is outside 0..{len(plan.stages)}")
    where = "at 0% traffic" if stage == 0 else f"at {plan.stages[stage - 1][plan.target]}%"
    if not passed:
        return RolloutStep(
            "rollback",
            dict(plan.before),
            f"{plan.target} failed {where}: {detail}".rstrip(": "),
        )
    if stage == len(plan.stages):
        return RolloutStep("done", dict(plan.stages[-1]), f"{plan.target} serves 100% of traffic")
    return RolloutStep("shift", dict(plan.stages[stage]), f"{plan.target} passed {where}")


class Executor(Protocol):
    """Applies rollout decisions to one endpoint (Azure or local)."""

    def traffic(self) -> dict[str, int]: ...

    def deploy(self, colour: str) -> None:
        """Create or update ``colour`` with the new version, without giving it traffic."""
        ...

    def set_traffic(self, traffic: Mapping[str, int]) -> None: ...

    def smoke(self, colour: str | None) -> SmokeResult:
        """Smoke-test one colour directly, or the endpoint as clients see it (None)."""
        ...


@dataclass
class Outcome:
    """Result of a rollout: whether the new version took all traffic, and what happened."""

    ok: bool
    plan: Plan
    traffic: dict[str, int]  # traffic at the end
    reason: str
    log: list[str] = field(default_factory=list)

    def verdict(self) -> str:
        state = "rollout done" if self.ok else "rollout FAILED, traffic restored"
        shown = ", ".join(f"{c}={p}%" for c, p in sorted(self.traffic.items())) or "none"
        return f"{state}: {self.reason} (traffic {shown})"


def run_rollout(executor: Executor, steps: Sequence[int]) -> Outcome:
    """Deploy to the idle colour and walk the steps; roll back on the first failure."""
    plan = plan_rollout(executor.traffic(), steps)
    log = [f"plan: new version to {plan.target}, live {plan.live or 'none'}"]
    logger.info(log[-1])
    try:
        executor.deploy(plan.target)
    except Exception as exc:  # a failed deploy must leave traffic alone, whatever raised
        return _roll_back(executor, plan, f"deploying {plan.target} failed: {exc}", log)
    stage = 0
    while True:
        problem = _smoke_stage(executor, plan, stage)
        decision = decide(plan, stage, problem is None, problem or "")
        log.append(f"stage {stage}: {decision.action} ({decision.reason})")
        logger.info(log[-1])
        if decision.action == "rollback":
            return _roll_back(executor, plan, decision.reason, log)
        if decision.action == "done":
            return Outcome(True, plan, decision.traffic, decision.reason, log)
        try:
            executor.set_traffic(decision.traffic)
        except Exception as exc:
            return _roll_back(executor, plan, f"setting traffic failed: {exc}", log)
        stage += 1


def _smoke_stage(executor: Executor, plan: Plan, stage: int) -> str | None:
    """Why stage ``stage`` failed its smoke tests, or None when it passed."""
    checks: list[str | None] = [plan.target]
    if stage > 0:
        checks.append(None)  # the endpoint as clients see it, with the new traffic split
    for colour in checks:
        try:
            result = executor.smoke(colour)
        except Exception as exc:
            return f"smoke test could not run: {exc}"
        if not result.ok:
            return result.verdict()
    return None


def _roll_back(executor: Executor, plan: Plan, reason: str, log: list[str]) -> Outcome:
    log.append(f"rollback: {reason}")
    logger.warning(log[-1])
    try:
        executor.set_traffic(plan.before)
    except Exception as exc:
        raise RolloutError(
            f"{reason}; restoring traffic {plan.before} ALSO failed ({exc}): "
            "check the endpoint by hand"
        ) from exc
    return Outcome(False, plan, dict(plan.before), reason, log)
