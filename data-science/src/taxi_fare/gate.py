"""The champion/challenger gate: a pure decision over two metric dicts (DESIGN section 5).

Both models are scored on the same test rows, and only on rows neither trained on:
the challenger's test split, less every row the champion's own split (its seed and
test size, recorded as tags when it was registered) put on the training side
(``unseen_by_champion``). Fewer than ``min_test_rows`` such rows, or a champion
whose split is unknown, fails closed. The challenger is promoted when the primary
metric improves strictly, by at least the absolute and relative minimums, and no
guardrail metric gets worse by more than the tolerance. No champion yet means a
bootstrap promotion. ``decision.json`` is the serialised ``Decision``, read and written
by ``taxi_fare.step_files``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from taxi_fare.errors import TaxiFareError
from taxi_fare.metrics import METRIC_NAMES, higher_is_better

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

MODES: tuple[str, ...] = ("enforce", "dry_run", "off")
#: Fewest test rows unseen by both models that a comparison may rest on.
DEFAULT_MIN_TEST_ROWS = 50
METRICS_FILE = "metrics.json"
#: R2 is a monotone function of RMSE on the same rows, so it adds nothing as a guardrail.
DEFAULT_GUARDRAILS: tuple[str, ...] = (
    "root_mean_squared_error",
    "mean_absolute_error",
    "mean_absolute_percentage_error",
)

Metrics = dict[str, float]


class GateError(TaxiFareError):
    """A gate setting is invalid, or a decision file cannot be trusted."""


@dataclass(frozen=True)
class GatePolicy:
    """What the challenger must achieve; every threshold is named with its direction."""

    primary_metric: str = "root_mean_squared_error"
    min_improvement: float = 0.0
    min_relative_improvement: float = 0.0
    guardrail_tolerance: float = 0.05
    guardrail_metrics: tuple[str, ...] = DEFAULT_GUARDRAILS
    mode: str = "enforce"
    min_test_rows: int = DEFAULT_MIN_TEST_ROWS

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise GateError(f"gate_mode: {self.mode!r} is not one of {', '.join(MODES)}")
        for metric in (self.primary_metric, *self.guardrail_metrics):
            if metric not in METRIC_NAMES:
                raise GateError(f"metric {metric!r} is not one of {', '.join(METRIC_NAMES)}")
        for name in ("min_improvement", "min_relative_improvement", "guardrail_tolerance"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise GateError(f"{name}: {value!r} must be a finite number >= 0")
        if isinstance(self.min_test_rows, bool) or not (
            isinstance(self.min_test_rows, int) and self.min_test_rows >= 1
        ):
            raise GateError(f"min_test_rows: {self.min_test_rows!r} must be an integer >= 1")

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["guardrail_metrics"] = [m for m in self.guardrails]
        out["direction"] = (
            "higher_is_better" if higher_is_better(self.primary_metric) else "lower_is_better"
        )
        return out

    @property
    def guardrails(self) -> tuple[str, ...]:
        return tuple(m for m in self.guardrail_metrics if m != self.primary_metric)


@dataclass(frozen=True)
class Decision:
    promote: bool
    reason: str
    mode: str
    challenger: Metrics
    champion: Metrics | None
    champion_version: int | None
    policy: dict[str, Any]
    #: What ``enforce`` would have decided (differs from ``promote`` only in dry_run/off).
    would_promote: bool = False
    checks: list[dict[str, Any]] = field(default_factory=list)
    #: Rows of the challenger's test split, and how many of them the comparison used
    #: (the rest the champion had trained on); None where no comparison was made.
    test_rows: int | None = None
    judged_rows: int | None = None
    #: How the challenger's split was made (``SplitSpec.to_dict``): register tags it.
    split: dict[str, Any] | None = None
    champion_split: dict[str, Any] | None = None
    #: The evaluated model (``registry.model_uuid``): register refuses any other model.
    challenger_model_uuid: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _check_metrics(metrics: Metrics, who: str) -> None:
    for name in METRIC_NAMES:
        value = metrics.get(name)
        if not isinstance(value, int | float) or isinstance(value, bool) or math.isnan(value):
            raise GateError(f"{who} metrics: {name!r} is {value!r}, not a number")


def _gain(metric: str, challenger: float, champion: float) -> float:
    """Improvement of the challenger, positive when better, in the metric's own units."""
    return challenger - champion if higher_is_better(metric) else champion - challenger


def _verdict(
    challenger: Metrics, champion: Metrics, policy: GatePolicy
) -> tuple[bool, str, list[dict[str, Any]]]:
    primary = policy.primary_metric
    gain = _gain(primary, challenger[primary], champion[primary])
    # A champion at exactly 0 has no scale: count any gain as 100% (keeps decision.json finite).
    relative = gain / abs(champion[primary]) if champion[primary] else float(gain > 0)
    checks: list[dict[str, Any]] = [
        {
            "metric": primary,
            "role": "primary",
            "challenger": challenger[primary],
            "champion": champion[primary],
            "improvement": gain,
            "relative_improvement": relative,
        }
    ]
    failures: list[str] = []
    # Equal up to float noise is not better: a forest sums its trees in thread order, so
    # the very same model can score 1e-16 apart on two runs.
    same = math.isclose(challenger[primary], champion[primary], rel_tol=1e-9, abs_tol=1e-12)
    if gain <= 0 or same:
        failures.append(
            f"{primary} {challenger[primary]:.4f} is not better than the champion's "
            f"{champion[primary]:.4f}"
        )
    elif gain < policy.min_improvement:
        failures.append(
            f"{primary} improves by {gain:.4f}, less than min_improvement {policy.min_improvement}"
        )
    elif relative < policy.min_relative_improvement:
        failures.append(
            f"{primary} improves by {relative:.2%}, less than min_relative_improvement "
            f"{policy.min_relative_improvement:.2%}"
        )
    for metric in policy.guardrails:
        loss = -_gain(metric, challenger[metric], champion[metric])
        allowed = policy.guardrail_tolerance * abs(champion[metric])
        checks.append(
            {
                "metric": metric,
                "role": "guardrail",
                "challenger": challenger[metric],
                "champion": champion[metric],
                "worsening": loss,
                "allowed": allowed,
            }
        )
        if loss > allowed:
            failures.append(
                f"guardrail {metric} worsens from {champion[metric]:.4f} to "
                f"{challenger[metric]:.4f}, beyond guardrail_tolerance "
                f"{policy.guardrail_tolerance:.0%}"
            )
    if failures:
        return False, "; ".join(failures), checks
    reason = (
        f"{primary} {challenger[primary]:.4f} beats the champion's {champion[primary]:.4f} "
        f"by {gain:.4f} ({relative:.2%}); guardrails hold"
    )
    return True, reason, checks


def _verb(promote: bool) -> str:
    return "promote" if promote else "refuse"


def decide(
    challenger: Metrics,
    champion: Metrics | None,
    policy: GatePolicy,
    champion_version: int | None = None,
) -> Decision:
    """The gate. ``champion`` is None when nothing is registered yet (bootstrap)."""
    _check_metrics(challenger, "challenger")
    checks: list[dict[str, Any]]
    if champion is None:
        would, reason, checks = True, "no champion registered yet: bootstrap promotion", []
    else:
        _check_metrics(champion, "champion")
        would, reason, checks = _verdict(challenger, champion, policy)
        reason = f"champion version {champion_version}: {reason}"
    if policy.mode == "enforce":
        promote = would
    elif policy.mode == "dry_run":
        # A dry run has no side effects: it records the verdict, nothing gets registered.
        promote = False
        reason = f"dry_run, nothing registered; enforce would {_verb(would)}: {reason}"
    else:
        promote = True
        reason = f"gate off, promoted without comparison; enforce would {_verb(would)}: {reason}"
    return Decision(
        promote,
        reason,
        policy.mode,
        dict(challenger),
        None if champion is None else dict(champion),
        champion_version,
        policy.to_dict(),
        would,
        checks,
    )


def fail_closed(
    challenger: Metrics, policy: GatePolicy, reason: str, champion_version: int | None = None
) -> Decision:
    """Something unexpected (the champion cannot be loaded or scored): do not promote."""
    return Decision(
        False,
        f"fail closed: {reason}",
        policy.mode,
        dict(challenger),
        None,
        champion_version,
        policy.to_dict(),
        False,
        [],
    )


def unseen_by_champion(test: pd.DataFrame, champion_tags: dict[str, str]) -> np.ndarray:
    """Mask of the challenger's test rows the champion did not train on.

    The champion trained on the rows its own split put on the training side; with the
    stable split that is a function of the row, so it is recomputed here from the
    champion's recorded seed and test size. Same seed: every test row stays (a test
    row is a test row for any test size at least as large). A champion without split
    tags (registered before the stable split) gives ``GateError``: its training rows
    are unknown, so no comparison can be fair.
    """
    # Here, not at the top: the split needs pandas, and readers of decision.json do not.
    from taxi_fare.split import SPLIT_METHOD, SplitSpec, is_test

    spec = SplitSpec.from_tags(champion_tags)
    if spec is None:
        raise GateError(
            "the champion records no split (tags split_method, split_seed, split_test_size), "
            f"so the rows it trained on are unknown; if it was split by {SPLIT_METHOD}, tag "
            "the version with its seed and test size"
        )
    if spec.method != SPLIT_METHOD:
        raise GateError(
            f"the champion was split with {spec.method!r}, not {SPLIT_METHOD!r}: its training "
            "rows cannot be recomputed"
        )
    return is_test(test, spec)


def check_judged_rows(judged: int, total: int, policy: GatePolicy) -> str | None:
    """Why ``judged`` rows are too few to compare on, or None when they are enough."""
    if judged >= policy.min_test_rows:
        return None
    return (
        f"only {judged} of {total} test rows are unseen by both models (the champion "
        f"trained on the rest), fewer than min_test_rows {policy.min_test_rows}"
    )
