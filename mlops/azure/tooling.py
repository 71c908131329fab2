"""Check the agent's Azure CLI: a minimum core version and the pinned ``ml`` extension."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable, Sequence

from mlops.errors import MlopsError

# 2.60.0 fixed the service-principal token cache that broke workload identity federation
# after 5 minutes; 2.67.0 is the oldest core the pinned ml extension is tested against here.
MIN_AZ_CLI = "2.67.0"
# The ml extension vendors its own azure-ai-ml; pinning it keeps YAML parsing reproducible.
ML_EXTENSION = "2.38.1"

Runner = Callable[[Sequence[str]], str]


def parse_version(text: str) -> tuple[int, ...]:
    """``"2.67.0"`` -> ``(2, 67, 0)``; pre-release suffixes are ignored."""
    match = re.match(r"^\s*(\d+(?:\.\d+)*)", text or "")
    if not match:
        raise MlopsError(f"cannot read a version number from {text!r}")
    return tuple(int(part) for part in match.group(1).split("."))


def run_az(args: Sequence[str]) -> str:
    """Run ``az`` and return stdout; a missing CLI or a failing call is one readable error."""
    try:
        done = subprocess.run(["az", *args], check=False, capture_output=True, text=True)
    except FileNotFoundError as exc:
        raise MlopsError("the Azure CLI ('az') is not on PATH; install it on the agent") from exc
    if done.returncode != 0:
        raise MlopsError(f"'az {' '.join(args)}' failed: {done.stderr.strip()}")
    return done.stdout


def check_cli(
    versions: dict[str, object], *, minimum: str = MIN_AZ_CLI, ml_version: str | None = None
) -> list[str]:
    """Problems with ``az version -o json`` output (empty when the agent is fit).

    ``ml_version`` None means the extension is not checked (before it is installed).
    """
    problems = []
    core = versions.get("azure-cli")
    if not isinstance(core, str):
        problems.append("'az version' reports no azure-cli version")
    elif parse_version(core) < parse_version(minimum):
        problems.append(f"azure-cli {core} is older than the required {minimum}; run 'az upgrade'")
    if ml_version is not None:
        extensions = versions.get("extensions") or {}
        found = extensions.get("ml") if isinstance(extensions, dict) else None
        if found is None:
            problems.append(f"the 'ml' extension is not installed; expected {ml_version}")
        elif parse_version(str(found)) != parse_version(ml_version):
            problems.append(f"the 'ml' extension is {found}, pinned {ml_version}")
        if isinstance(extensions, dict) and "azure-cli-ml" in extensions:
            problems.append("the retired v1 extension 'azure-cli-ml' is installed; remove it")
    return problems


def verify_cli(
    *, minimum: str = MIN_AZ_CLI, ml_version: str | None = None, runner: Runner = run_az
) -> dict[str, object]:
    """Run ``az version`` and raise one error listing every problem found."""
    raw = runner(["version", "--output", "json"])
    try:
        versions = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise MlopsError(f"'az version' printed something that is not JSON: {raw[:200]!r}") from exc
    problems = check_cli(versions, minimum=minimum, ml_version=ml_version)
    if problems:
        raise MlopsError("; ".join(problems))
    return versions
