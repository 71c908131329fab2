"""Azure side of the blue/green rollout: read and set endpoint traffic, smoke-test each step.

The decisions live in :mod:`mlops.azure.traffic`; this module only talks to Azure ML
(through an ``MLClient``) and runs ``mlops smoke-test`` against the real endpoint.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from mlops.azure.traffic import ColourPlan, plan_colours
from mlops.errors import MlopsError

log = logging.getLogger(__name__)

Runner = Callable[[Sequence[str]], int]


def read_plan(client: Any, endpoint: str) -> ColourPlan:
    """Live/idle colours of ``endpoint`` from its traffic and deployments."""
    try:
        found = client.online_endpoints.get(endpoint)
        deployments = {d.name for d in client.online_deployments.list(endpoint_name=endpoint)}
    except Exception as exc:
        raise MlopsError(f"online endpoint {endpoint}: cannot read it: {exc}") from exc
    traffic = {str(k): int(v) for k, v in (getattr(found, "traffic", None) or {}).items()}
    return plan_colours(traffic, frozenset(deployments))


def parse_traffic(text: str) -> dict[str, int]:
    """``"blue=90 green=10"`` -> ``{"blue": 90, "green": 10}``."""
    traffic: dict[str, int] = {}
    for part in text.split():
        name, sep, pct = part.partition("=")
        if not sep or not pct.isdigit():
            raise MlopsError(f"traffic must look like 'blue=90 green=10', got {text!r}")
        traffic[name] = int(pct)
    return traffic


def set_traffic(client: Any, endpoint: str, traffic: str) -> None:
    """Apply a traffic split and wait for the endpoint update to finish."""
    try:
        found = client.online_endpoints.get(endpoint)
        found.traffic = parse_traffic(traffic)
        client.online_endpoints.begin_create_or_update(found).result()
    except MlopsError:
        raise
    except Exception as exc:
        message = f"online endpoint {endpoint}: cannot set traffic {traffic}: {exc}"
        raise MlopsError(message) from exc


def scoring_target(client: Any, endpoint: str) -> tuple[str, str]:
    """Scoring URI and a key (or AML token) of the endpoint."""
    try:
        found = client.online_endpoints.get(endpoint)
        keys = client.online_endpoints.get_keys(endpoint)
    except Exception as exc:
        raise MlopsError(f"online endpoint {endpoint}: cannot read URI and keys: {exc}") from exc
    key = getattr(keys, "primary_key", None) or getattr(keys, "access_token", None)
    if not found.scoring_uri or not key:
        raise MlopsError(f"online endpoint {endpoint}: no scoring URI or key yet")
    return str(found.scoring_uri), str(key)


def _run(args: Sequence[str]) -> int:
    return subprocess.run(list(args), check=False).returncode


def smoke_command(
    url: str, key: str, sample: Path, latency_ms: int, deployment: str | None = None
) -> list[str]:
    """The ``mlops smoke-test`` call (the endpoints area owns the checks themselves)."""
    args = [sys.executable, "-m", "mlops", "smoke-test", "--url", url, "--key", key]
    args += ["--sample", str(sample), "--latency-ms", str(latency_ms)]
    if deployment:
        args += ["--deployment", deployment]
    return args


def smoke(
    url: str,
    key: str,
    sample: Path,
    latency_ms: int,
    deployment: str | None = None,
    runner: Runner = _run,
) -> None:
    """Run the smoke test; a non-zero exit is an error naming the target."""
    target = f"deployment {deployment}" if deployment else "the endpoint's traffic mix"
    if runner(smoke_command(url, key, sample, latency_ms, deployment)) != 0:
        raise MlopsError(f"smoke test failed against {target} at {url}")
