"""Blue/green traffic decisions for an Azure ML online endpoint, as pure functions.

The endpoint has (at most) two deployments, ``blue`` and ``green``. The *live* colour
is the one holding traffic now; the new model goes to the *idle* colour at 0 %, is
smoke-tested there, then takes the release file's traffic steps. On any failure the
pipeline restores the traffic that was recorded before the rollout began.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from mlops.errors import MlopsError

log = logging.getLogger(__name__)

COLOURS = ("blue", "green")


@dataclass(frozen=True)
class ColourPlan:
    """Which colour serves now, which one takes the new model, and the traffic to restore."""

    live: str  # '' when the endpoint serves nothing yet (first rollout)
    idle: str
    restore: str  # traffic string for ``az ml online-endpoint update --traffic``; '' = none

    def variables(self) -> dict[str, str]:
        return {"LIVE_COLOUR": self.live, "IDLE_COLOUR": self.idle, "RESTORE_TRAFFIC": self.restore}


def format_traffic(traffic: Mapping[str, int]) -> str:
    """``{"blue": 90, "green": 10}`` -> ``"blue=90 green=10"`` (sorted, stable)."""
    return " ".join(f"{name}={int(pct)}" for name, pct in sorted(traffic.items()))


def plan_colours(traffic: Mapping[str, int], deployments: set[str] | frozenset[str]) -> ColourPlan:
    """Decide live and idle colours from the endpoint's traffic and existing deployments.

    A deployment outside blue/green, or traffic split over both colours (a rollout
    that never finished), is refused: a human must settle the endpoint first.
    """
    unknown = sorted((set(deployments) | set(traffic)) - set(COLOURS))
    if unknown:
        raise MlopsError(
            f"online endpoint has deployments {unknown} besides blue/green; "
            "remove them or route traffic yourself before a blue/green rollout"
        )
    serving = {name: int(pct) for name, pct in traffic.items() if int(pct) > 0}
    if sum(serving.values()) not in (0, 100):
        raise MlopsError(f"endpoint traffic {format_traffic(serving)} does not add up to 100")
    if len(serving) > 1:
        raise MlopsError(
            f"endpoint traffic is split ({format_traffic(serving)}): an earlier rollout did not "
            "finish; set one colour to 100 before releasing again"
        )
    if not serving:
        return ColourPlan(live="", idle="blue", restore="")
    live = next(iter(serving))
    idle = "green" if live == "blue" else "blue"
    return ColourPlan(live=live, idle=idle, restore=format_traffic({live: 100, idle: 0}))


def step_traffic(live: str, idle: str, percent: int) -> str:
    """Traffic string giving ``percent`` to the idle (new) colour and the rest to the live one."""
    if idle not in COLOURS or (live and live not in COLOURS) or live == idle:
        raise MlopsError(f"colours must be blue and green, got live={live!r} idle={idle!r}")
    if not 0 <= percent <= 100:
        raise MlopsError(f"traffic percentage must be within 0..100, got {percent}")
    if not live:
        # Nothing else serves: a step below 100 would leave requests without a deployment.
        return format_traffic({idle: 100 if percent > 0 else 0})
    return format_traffic({live: 100 - percent, idle: percent})


def parse_steps(text: str) -> tuple[int, ...]:
    """``"10 50 100"`` (or comma-separated) -> ``(10, 50, 100)``: increasing, ending at 100."""
    parts = [p for p in re.split(r"[\s,]+", text.strip()) if p]
    try:
        steps = tuple(int(p) for p in parts)
    except ValueError:
        raise MlopsError(f"rollout steps must be whole percentages, got {text!r}") from None
    if not steps or steps[-1] != 100 or any(b <= a for a, b in zip(steps, steps[1:], strict=False)):
        raise MlopsError(f"rollout steps must increase and end at 100, got {text!r}")
    if steps[0] <= 0:
        raise MlopsError(f"rollout steps must be positive, got {text!r}")
    return steps


def walk_steps(
    plan: ColourPlan,
    steps: tuple[int, ...],
    set_traffic: Callable[[str], None],
    smoke: Callable[[int], None],
) -> list[str]:
    """Give the idle colour each step's share, smoke-testing after each; return what was set.

    A failing smoke test (``smoke`` raises) or traffic update stops the walk; the
    pipeline's restore step then puts ``plan.restore`` back.
    """
    applied: list[str] = []
    for percent in steps:
        traffic = step_traffic(plan.live, plan.idle, percent)
        if applied and applied[-1] == traffic:
            continue  # first rollout: every step is idle=100, set it once
        log.info("traffic -> %s", traffic)
        set_traffic(traffic)
        applied.append(traffic)
        smoke(percent)
    return applied
