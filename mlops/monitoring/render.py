"""Render an environment's monitor spec for its live names, then load it with azure-ai-ml.

The committed ``monitor-<env>.yml`` carries the default names (postfix 0001, deployment
blue, a placeholder address); the pipeline passes the derived endpoint name, the colour
taking traffic, the alert e-mails of config-infra-<env>.yml and the training-data asset
of the deployed model. The rendered file is checked with azure-ai-ml's load_schedule
(the loader ``az ml schedule create --file`` uses) before anything reaches Azure.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from mlops.errors import MlopsError
from mlops.monitoring.spec import spec_path

_EMAIL = re.compile(r"^[^@\s,]+@[^@\s,]+\.[^@\s,]+$")
_NAME = re.compile(r"^[a-zA-Z][a-zA-Z0-9-]{1,31}$")


def _check_name(kind: str, value: str) -> str:
    if not _NAME.match(value):
        raise MlopsError(f"--{kind} {value!r}: expected a letter then letters, digits or '-'")
    return value


def busiest_deployment(traffic_json: str) -> str:
    """The deployment taking the most traffic in ``az ml online-endpoint show --query traffic``."""
    import json

    try:
        traffic = json.loads(traffic_json)
    except ValueError:
        raise MlopsError(f"--traffic {traffic_json[:60]!r}: not JSON") from None
    if (
        not isinstance(traffic, dict)
        or not traffic
        or not all(isinstance(v, int) for v in traffic.values())
    ):
        raise MlopsError(f"--traffic {traffic_json[:60]!r}: expected {{deployment: percent}}")
    name, share = max(traffic.items(), key=lambda kv: kv[1])
    if share <= 0:
        raise MlopsError("--traffic: no deployment takes traffic; nothing to monitor")
    return str(name)


def render_monitor_spec(
    env: str,
    out: Path,
    endpoint: str | None = None,
    deployment: str | None = None,
    emails: str | None = None,
    train_data: str | None = None,
) -> dict[str, Any]:
    """Write the rendered spec to ``out`` and return it; nothing is written if it is invalid."""
    import yaml
    from azure.ai.ml.entities._load_functions import load_schedule

    source = spec_path(env)
    spec = yaml.safe_load(source.read_text(encoding="utf-8"))  # anchors expanded
    monitor = spec["create_monitor"]
    old_ep, old_dep = monitor["monitoring_target"]["endpoint_deployment_id"].split(":")[1:3]
    ep = _check_name("endpoint", endpoint) if endpoint else old_ep
    dep = _check_name("deployment", deployment) if deployment else old_dep
    monitor["monitoring_target"]["endpoint_deployment_id"] = f"azureml:{ep}:{dep}"
    for signal in monitor["monitoring_signals"].values():
        for side in ("production_data", "reference_data"):
            data = signal.get(side)
            if not data:
                continue
            path = data["input_data"]["path"]
            if data.get("data_context") in ("model_inputs", "model_outputs"):
                # Data assets the collector registers: <endpoint>-<deployment>-<collection>.
                data["input_data"]["path"] = path.replace(f"{old_ep}-{old_dep}-", f"{ep}-{dep}-")
            elif data.get("data_context") == "training" and train_data:
                if not train_data.startswith("azureml:"):
                    raise MlopsError(f"--train-data {train_data!r}: expected azureml:<name>:<ver>")
                data["input_data"]["path"] = train_data
    if emails is not None:
        listed = [e.strip() for e in emails.split(",") if e.strip()]
        bad = [e for e in listed if not _EMAIL.match(e)]
        if bad or not listed:
            raise MlopsError(f"--emails: {bad[0] if bad else '(none)'!r} is not an e-mail address")
        monitor["alert_notification"] = {"emails": listed}
    text = yaml.safe_dump(spec, sort_keys=False)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.partial")
    partial.write_text(text, encoding="utf-8")
    try:
        load_schedule(str(partial))
    except Exception as exc:
        partial.unlink(missing_ok=True)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise MlopsError(f"rendered monitor spec for {env} does not load: {first}") from None
    partial.replace(out)
    return spec
