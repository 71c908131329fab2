"""Smoke test of a scoring endpoint, local or on Azure ML.

Sends the sample requests, and checks for each: HTTP 200, a JSON list with one finite
prediction per row inside a sane range, and the latency budget (the median of a few
repeats, so one cold request does not decide). It also sends one malformed request and
expects a 4xx, which shows the validating scoring script is the one answering.

Azure: key auth is ``Authorization: Bearer <key>``; ``deployment`` adds the
``azureml-model-deployment`` header, which routes to one colour regardless of traffic.
"""

from __future__ import annotations

import json
import math
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlops.errors import MlopsError
from mlops.settings import REPO_ROOT

SAMPLES_DIR = REPO_ROOT / "data" / "requests"
DEFAULT_SAMPLES = (SAMPLES_DIR / "sample-split.json", SAMPLES_DIR / "sample-records.json")
# Sane range of a predicted total trip cost in USD; a prediction outside it means a broken model.
MIN_COST = 0.0
MAX_COST = 1000.0


@dataclass
class SmokeResult:
    url: str
    ok: bool
    reason: str
    rows: int = 0
    latencies_ms: list[float] = field(default_factory=list)

    def verdict(self) -> str:
        """One line for logs and pipeline output."""
        if not self.ok:
            return f"smoke test FAILED for {self.url}: {self.reason}"
        p50 = statistics.median(self.latencies_ms) if self.latencies_ms else 0.0
        return (
            f"smoke test passed for {self.url}: {self.rows} rows scored, "
            f"{self.reason}, p50 {p50:.1f} ms"
        )


def load_sample(path: Path) -> tuple[str, int]:
    """The request body of a sample file and its number of rows."""
    try:
        body = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MlopsError(f"{path}: sample request not found") from None
    except json.JSONDecodeError as exc:
        raise MlopsError(f"{path}: sample request is not valid JSON ({exc})") from None
    data = body.get("input_data") if isinstance(body, dict) else None
    if isinstance(data, dict) and isinstance(data.get("data"), list):
        rows = len(data["data"])
    elif isinstance(data, list):
        rows = len(data)
    else:
        raise MlopsError(f"{path}: sample has no input_data in split or records form")
    if rows == 0:
        raise MlopsError(f"{path}: sample has no rows")
    return json.dumps(body), rows


def check_predictions(payload: Any, rows: int, low: float, high: float) -> str | None:
    """Why a response body is wrong, or None when it is one sane prediction per row."""
    if not isinstance(payload, list):
        return f"response is {type(payload).__name__}, expected a JSON list of predictions"
    if len(payload) != rows:
        return f"{len(payload)} predictions for {rows} rows"
    for i, value in enumerate(payload):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"prediction {i} is not a number: {json.dumps(value)[:40]}"
        if not math.isfinite(value):
            return f"prediction {i} is not finite: {value}"
        if not low <= value <= high:
            return f"prediction {i} = {value:.2f} is outside the sane range [{low:g}, {high:g}]"
    return None


def smoke_test(
    url: str,
    key: str | None = None,
    samples: list[Path] | None = None,
    latency_ms: float = 500.0,
    deployment: str | None = None,
    repeats: int = 3,
    low: float = MIN_COST,
    high: float = MAX_COST,
    timeout_s: float = 30.0,
) -> SmokeResult:
    """Run the smoke test; never raises for endpoint faults, they are in the result."""
    import requests

    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    if deployment:
        headers["azureml-model-deployment"] = deployment
    bodies = [(p, *load_sample(p)) for p in (samples or list(DEFAULT_SAMPLES))]
    result = SmokeResult(url=url, ok=False, reason="")
    session = requests.Session()
    try:
        for path, body, rows in bodies:
            timings = []
            for _ in range(max(1, repeats)):
                start = time.perf_counter()
                try:
                    resp = session.post(url, data=body, headers=headers, timeout=timeout_s)
                except requests.RequestException as exc:
                    result.reason = f"{path.name}: request failed ({type(exc).__name__}: {exc})"
                    return result
                timings.append((time.perf_counter() - start) * 1000)
                if resp.status_code != 200:
                    result.reason = f"{path.name}: HTTP {resp.status_code}: {resp.text[:200]}"
                    return result
                try:
                    payload = resp.json()
                except ValueError:
                    result.reason = f"{path.name}: response is not JSON: {resp.text[:200]}"
                    return result
                problem = check_predictions(payload, rows, low, high)
                if problem:
                    result.reason = f"{path.name}: {problem}"
                    return result
            median = statistics.median(timings)
            result.latencies_ms.extend(timings)
            result.rows += rows
            if median > latency_ms:
                result.reason = (
                    f"{path.name}: median latency {median:.0f} ms "
                    f"exceeds the {latency_ms:g} ms budget"
                )
                return result
        try:
            bad = session.post(url, data='{"rows": []}', headers=headers, timeout=timeout_s)
        except requests.RequestException as exc:
            result.reason = f"malformed request: request failed ({type(exc).__name__})"
            return result
        if not 400 <= bad.status_code < 500:
            result.reason = f"a request without input_data got HTTP {bad.status_code}, expected 4xx"
            return result
    finally:
        session.close()
    result.ok = True
    result.reason = f"{len(bodies)} samples within {latency_ms:g} ms"
    return result
