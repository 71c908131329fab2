"""Turn the evaluation step's decision.json into pipeline output variables, failing closed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mlops.azure.vso import set_variable
from mlops.errors import MlopsError


def read_json(path: Path, what: str) -> dict[str, Any]:
    """A JSON object from ``path``; anything else is an error naming the file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise MlopsError(f"{path}: {what} not found; the job produced no such output") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MlopsError(f"{path}: {what} is not readable JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise MlopsError(f"{path}: {what} must be a JSON object, got {type(data).__name__}")
    return data


def decision_variables(decision_file: Path) -> dict[str, str]:
    """``promote``, ``reason`` and ``champion_version`` from a decision.json.

    ``promote`` must be a JSON boolean: a string such as "false" is truthy in
    careless code, so it is refused rather than guessed.
    """
    decision = read_json(decision_file, "decision file")
    promote = decision.get("promote")
    if not isinstance(promote, bool):
        raise MlopsError(f"{decision_file}: key 'promote' must be true or false, got {promote!r}")
    reason = decision.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise MlopsError(
            f"{decision_file}: key 'reason' must be a non-empty string, got {reason!r}"
        )
    champion = decision.get("champion_version")
    if champion is not None and (isinstance(champion, bool) or not isinstance(champion, int)):
        raise MlopsError(
            f"{decision_file}: key 'champion_version' must be an integer or null, got {champion!r}"
        )
    return {
        "promote": "true" if promote else "false",
        "reason": reason.strip(),
        "champion_version": "" if champion is None else str(champion),
    }


def model_info_variables(model_info_file: Path) -> dict[str, str]:
    """``registered`` and ``model_version`` from register.py's model_info.json."""
    info = read_json(model_info_file, "model info file")
    registered = info.get("registered")
    if not isinstance(registered, bool):
        raise MlopsError(
            f"{model_info_file}: key 'registered' must be true or false, got {registered!r}"
        )
    version = info.get("version")
    if registered and (isinstance(version, bool) or not isinstance(version, int) or version < 1):
        raise MlopsError(
            f"{model_info_file}: key 'version' must be a positive integer when registered, "
            f"got {version!r}"
        )
    return {
        "registered": "true" if registered else "false",
        "model_version": str(version) if registered else "",
    }


def output_lines(variables: dict[str, str]) -> list[str]:
    """One ``##vso[task.setvariable ...;isOutput=true]`` line per variable, in a stable order."""
    return [set_variable(name, value, is_output=True) for name, value in variables.items()]


def consistent(
    decision: dict[str, str], info: dict[str, str], decision_file: Path, model_info_file: Path
) -> None:
    """A registration must follow a promote decision and nothing else (fail closed)."""
    if decision["promote"] != info["registered"]:
        raise MlopsError(
            f"{model_info_file}: registered={info['registered']} contradicts "
            f"promote={decision['promote']} in {decision_file}"
        )
