"""Turn the evaluation step's decision into pipeline output variables, failing closed.

The files are read by ``taxi_fare.step_files`` (the one reader of each step output): a
missing file, a string where a boolean belongs or a registered model without a version
is refused there with one line naming the file and the key.
"""

from __future__ import annotations

from pathlib import Path

from taxi_fare.gate import Decision
from taxi_fare.step_files import ModelInfo

from mlops.azure.vso import set_variable
from mlops.errors import MlopsError


def decision_variables(decision: Decision) -> dict[str, str]:
    """``promote``, ``reason`` and ``champion_version`` of the gate's decision."""
    champion = decision.champion_version
    return {
        "promote": "true" if decision.promote else "false",
        "reason": decision.reason.strip(),
        "champion_version": "" if champion is None else str(champion),
    }


def model_info_variables(info: ModelInfo) -> dict[str, str]:
    """``registered`` and ``model_version`` of what the register step did."""
    return {
        "registered": "true" if info.registered else "false",
        "model_version": str(info.version) if info.registered else "",
    }


def output_lines(variables: dict[str, str]) -> list[str]:
    """One ``##vso[task.setvariable ...;isOutput=true]`` line per variable, in a stable order."""
    return [set_variable(name, value, is_output=True) for name, value in variables.items()]


def consistent(
    decision: Decision, info: ModelInfo, decision_file: Path, model_info_file: Path
) -> None:
    """A registration must follow a promote decision and nothing else (fail closed)."""
    if decision.promote != info.registered:
        registered, promote = str(info.registered).lower(), str(decision.promote).lower()
        raise MlopsError(
            f"{model_info_file}: registered={registered} contradicts "
            f"promote={promote} in {decision_file}"
        )
