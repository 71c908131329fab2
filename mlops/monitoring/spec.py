"""The signals, features and thresholds of an environment's Azure ML monitor spec.

``mlops monitor`` reads them from ``mlops/azureml/monitoring/monitor-<env>.yml`` rather
than keeping its own copy, so the local twin and Azure ML judge with the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops import settings
from mlops.errors import MlopsError

MONITORING_DIR = settings.REPO_ROOT / "mlops" / "azureml" / "monitoring"
SIGNAL_TYPES = ("data_drift", "prediction_drift", "data_quality")


@dataclass(frozen=True)
class Signal:
    """One monitoring signal: its name in the spec, type, and thresholds per data type."""

    name: str
    type: str
    numerical: dict[str, float]
    categorical: dict[str, float]


@dataclass(frozen=True)
class MonitorSpec:
    path: Path
    features: tuple[str, ...]
    categorical: frozenset[str]
    signals: tuple[Signal, ...]
    emails: tuple[str, ...]


def spec_path(env: str) -> Path:
    settings.store_dir(env)  # rejects an unknown environment
    return MONITORING_DIR / f"monitor-{env}.yml"


def load_monitor_spec(path: Path) -> MonitorSpec:
    """Parse a monitor schedule YAML; MlopsError naming the file and key when it is not one."""
    import yaml

    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise MlopsError(f"{path}: cannot read the monitor spec: {exc}") from None
    monitor = (raw or {}).get("create_monitor") if isinstance(raw, dict) else None
    if not isinstance(monitor, dict) or not isinstance(monitor.get("monitoring_signals"), dict):
        raise MlopsError(f"{path}: no create_monitor.monitoring_signals")
    signals: list[Signal] = []
    features: tuple[str, ...] = ()
    categorical: set[str] = set()
    for name, body in monitor["monitoring_signals"].items():
        kind = body.get("type") if isinstance(body, dict) else None
        if kind not in SIGNAL_TYPES:
            continue  # other signal types have no local counterpart
        thresholds: dict[str, Any] = body.get("metric_thresholds") or {}
        signals.append(
            Signal(
                name,
                kind,
                _floats(path, name, thresholds.get("numerical")),
                _floats(path, name, thresholds.get("categorical")),
            )
        )
        if kind != "prediction_drift":
            listed = body.get("features")
            if isinstance(listed, list):
                features = features or tuple(str(f) for f in listed)
            overrides = body.get("feature_type_override") or {}
            categorical |= {f for f, t in overrides.items() if str(t).lower() == "categorical"}
    if not signals:
        raise MlopsError(f"{path}: no data_drift, prediction_drift or data_quality signal")
    emails = ((monitor.get("alert_notification") or {}).get("emails")) or []
    return MonitorSpec(path, features, frozenset(categorical), tuple(signals), tuple(emails))


def _floats(path: Path, signal: str, block: Any) -> dict[str, float]:
    if block is None:
        return {}
    if not isinstance(block, dict):
        raise MlopsError(f"{path}: {signal}.metric_thresholds must map metric names to numbers")
    out = {}
    for metric, value in block.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise MlopsError(f"{path}: {signal}.metric_thresholds.{metric}: {value!r} is no number")
        out[str(metric)] = float(value)
    return out
