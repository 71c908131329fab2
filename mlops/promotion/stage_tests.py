"""Stage tests: metrics on the stage slice vs the dev evaluation, within configured tolerance.

Pure functions over metric dicts plus the config loader; scoring goes through a
deployed endpoint (see :mod:`mlops.promotion.deploy`), so the same check runs
against the local stage server and the Azure stage online endpoint. The metrics are
``taxi_fare.metrics``'s, so stage and the evaluate step measure alike by construction.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from taxi_fare.metrics import METRIC_NAMES, regression_metrics
from taxi_fare.schema import FEATURES, TARGET

from mlops.errors import MlopsError

DEFAULT_CONFIG = Path(__file__).with_name("stage-tests.yml")


@dataclass(frozen=True)
class StageTestConfig:
    tolerances: dict[str, float]
    min_rows: int


@dataclass(frozen=True)
class MetricCheck:
    metric: str
    stage: float | None
    dev: float | None
    limit: float | None
    passed: bool


@dataclass
class StageResult:
    """What the stage tests found; written as JSON and as tags on the registry version."""

    version: int
    rows: int
    passed: bool
    reason: str
    metrics: dict[str, float]
    checks: list[MetricCheck] = field(default_factory=list)
    smoke_test: dict[str, Any] = field(default_factory=dict)
    tested_at: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def tags(self) -> dict[str, str]:
        """Registry tags: ``stage_passed`` is what the prod check reads."""
        tags = {
            "stage_passed": "true" if self.passed else "false",
            "stage_tested_at": self.tested_at,
            "stage_rows": str(self.rows),
            "stage_reason": self.reason[:500],
        }
        for name, value in self.metrics.items():
            tags[f"stage_{name}"] = repr(float(value))
        return tags


def load_config(path: Path | None = None) -> StageTestConfig:
    """Read the tolerance config; a bad entry names the file and key."""
    import yaml

    path = path or DEFAULT_CONFIG
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MlopsError(f"{path}: stage test config not found") from None
    except yaml.YAMLError:
        raise MlopsError(f"{path}: not valid YAML") from None
    if not isinstance(data, dict) or not isinstance(data.get("tolerances"), dict):
        raise MlopsError(f"{path}: key 'tolerances': expected a mapping of metric to tolerance")
    tolerances: dict[str, float] = {}
    for name, value in data["tolerances"].items():
        if not (str(name).endswith("_error") or str(name).endswith("_score")):
            raise MlopsError(
                f"{path}: key 'tolerances.{name}': metric names must end in _error or _score"
            )
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise MlopsError(
                f"{path}: key 'tolerances.{name}': expected a non-negative number, got {value!r}"
            )
        tolerances[str(name)] = float(value)
    min_rows = data.get("min_rows", 1)
    if isinstance(min_rows, bool) or not isinstance(min_rows, int) or min_rows < 1:
        raise MlopsError(f"{path}: key 'min_rows': expected a positive integer, got {min_rows!r}")
    return StageTestConfig(tolerances=tolerances, min_rows=min_rows)


def reference_metrics(tags: Mapping[str, str]) -> dict[str, float]:
    """Dev evaluation metrics from a version's tags (unparseable values are left out)."""
    found = {}
    for name in METRIC_NAMES:
        try:
            value = float(tags[name])
        except (KeyError, ValueError):
            continue
        if math.isfinite(value):
            found[name] = value
    return found


def compare(
    stage: Mapping[str, float], dev: Mapping[str, float], config: StageTestConfig
) -> list[MetricCheck]:
    """One check per configured metric; a metric missing on either side fails."""
    checks = []
    for name, tolerance in config.tolerances.items():
        s, d = stage.get(name), dev.get(name)
        if s is None or d is None:
            checks.append(MetricCheck(name, s, d, None, False))
            continue
        if name.endswith("_error"):
            limit = d * (1.0 + tolerance)
            ok = s <= limit
        else:
            limit = d - tolerance
            ok = s >= limit
        checks.append(MetricCheck(name, s, d, limit, bool(ok and math.isfinite(s))))
    return checks


def verdict(
    version: int,
    rows: int,
    stage: dict[str, float],
    dev: Mapping[str, float],
    config: StageTestConfig,
    smoke: dict[str, Any],
    tested_at: str,
) -> StageResult:
    """Pass only with enough rows, a passing smoke test and every metric within tolerance."""
    checks = compare(stage, dev, config)
    problems = []
    if not smoke.get("passed", False):
        problems.append(f"smoke test failed: {smoke.get('message', 'no result')}")
    if rows < config.min_rows:
        problems.append(f"only {rows} stage rows (min_rows {config.min_rows})")
    for check in checks:
        if check.passed:
            continue
        if check.dev is None:
            problems.append(f"{check.metric}: no dev evaluation value on the version's tags")
        elif check.stage is None:
            problems.append(f"{check.metric}: not measured on stage")
        else:
            problems.append(
                f"{check.metric} {check.stage:.4g} beyond limit {check.limit:.4g} "
                f"(dev {check.dev:.4g})"
            )
    reason = "; ".join(problems) if problems else "all metrics within tolerance of dev"
    return StageResult(
        version=version,
        rows=rows,
        passed=not problems,
        reason=reason,
        metrics=stage,
        checks=checks,
        smoke_test=smoke,
        tested_at=tested_at,
    )


def read_stage_data(path: Path) -> Any:
    """The stage test set (``data.parquet`` from stageprep.py): the 20 features and ``cost``."""
    import pandas as pd

    file = path / "data.parquet" if path.is_dir() else path
    try:
        frame = pd.read_parquet(file)
    except FileNotFoundError:
        raise MlopsError(f"{file}: stage test data not found (make it with stageprep.py)") from None
    except Exception as exc:  # pyarrow raises several types for a corrupt file
        raise MlopsError(f"{file}: cannot read stage test data ({exc})") from None
    missing = [c for c in (*FEATURES, TARGET) if c not in frame.columns]
    if missing:
        raise MlopsError(f"{file}: column {missing[0]!r} missing from the stage test data")
    return frame


def run_stage_tests(
    endpoint: Any,
    frame: Any,
    version: int,
    dev_tags: Mapping[str, str],
    config: StageTestConfig,
    latency_ms: int,
    tested_at: str,
) -> StageResult:
    """Smoke-test the endpoint, score the stage set through it, and judge against dev.

    ``endpoint`` is a :class:`mlops.promotion.deploy.Endpoint` (local server or Azure).
    Scoring is skipped when the smoke test already failed: the verdict is a fail anyway.
    """
    import numpy as np

    smoke = endpoint.smoke_test(latency_ms)
    measured: dict[str, float] = {}
    if smoke.get("passed"):
        try:
            predictions = endpoint.predict(frame[list(FEATURES)])
        except MlopsError as exc:  # the endpoint broke under the stage set: a fail, recorded
            smoke = {**smoke, "passed": False, "message": f"scoring the stage set failed: {exc}"}
        else:
            actual = np.asarray(frame[TARGET], dtype="float64")
            measured = regression_metrics(actual, np.asarray(predictions, dtype="float64"))
    return verdict(
        version, len(frame), measured, reference_metrics(dev_tags), config, smoke, tested_at
    )
