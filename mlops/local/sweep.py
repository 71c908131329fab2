"""Sweep nodes: the trials a search space and sampling algorithm ask for.

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
from typing import Any

from mlops.amlspec.files import YDict
from mlops.amlspec.model import Node
from mlops.errors import MlopsError

log = logging.getLogger(__name__)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _seconds(value: Any) -> float | None:
    return None if value is None else float(value)


def sweep_spec(node: Node, where: str) -> Any:
    """The sweep settings of a node (the rules already checked their shape)."""
    from mlops.local.pipeline import SweepSpec

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


def trials(spec: Any) -> list[dict[str, Any]]:
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
