"""Command components as the local twin runs them: loading (through ``mlops.amlspec``) and
the command line with inputs and outputs substituted."""

from __future__ import annotations

import re
import shlex
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mlops import settings
from mlops.amlspec.catalogue import Catalogue
from mlops.amlspec.loader import Loader
from mlops.amlspec.model import Component
from mlops.amlspec.ports import PATH_TYPES, InputSpec
from mlops.amlspec.rules import Checker
from mlops.errors import MlopsError

__all__ = ["PATH_TYPES", "Component", "InputSpec", "load_component", "render_command"]

_OPTIONAL_BLOCK = re.compile(r"\$\[\[(.*?)\]\]", re.S)
_REFERENCE = re.compile(r"\$\{\{\s*(inputs|outputs|search_space)\.([A-Za-z_][\w-]*)\s*\}\}")


def load_component(path: Path, catalogue: Catalogue | None = None) -> Component:
    """Read a command component YAML; the first problem Azure ML would see too is raised."""
    path = Path(path).resolve()
    if not path.is_file():
        raise MlopsError(f"component file not found: {path}")
    if catalogue is None:  # the specs next to it and the repository's, as a pipeline sees them
        catalogue = Catalogue.scan(path.parent, settings.REPO_ROOT / "mlops" / "azureml")
    loader = Loader(catalogue)
    component = loader.component_file(path)
    if component is not None:
        Checker(loader).component(component)
    loader.problems.raise_first()
    if component is None:  # pragma: no cover - None always comes with a problem
        raise MlopsError(f"{path}: cannot be read")
    if component.kind != "command":
        raise MlopsError(f"{path}: only command components run locally, not '{component.kind}'")
    if not component.command:
        raise MlopsError(f"{path}: missing 'command'")
    return component


def _is_operator(token: str) -> bool:
    return bool(token) and all(ch in "();<>|&" for ch in token)


def render_command(
    component: Component,
    inputs: Mapping[str, Any],
    outputs: Mapping[str, Path],
    python: Path | None = None,
) -> list[str]:
    """The argv of a component's command with inputs and outputs substituted.

    ``$[[...]]`` blocks are kept only when every input they reference is set, as in Azure
    ML. A leading ``python``/``python3`` becomes ``python`` (the step's environment;
    default: the current interpreter).
    """
    where = str(component.path)

    def value_of(kind: str, name: str) -> Any:
        if kind == "search_space":
            kind = "inputs"  # a standalone sweep's trial: sampled values arrive as inputs
        table: Mapping[str, Any] = inputs if kind == "inputs" else outputs
        declared = component.inputs if kind == "inputs" else component.outputs
        if name not in declared:
            raise MlopsError(f"{where}: command references undeclared {kind[:-1]} '{name}'")
        return table.get(name)

    def substitute(text: str) -> str:
        def one(match: re.Match[str]) -> str:
            value = value_of(match.group(1), match.group(2))
            if value is None:
                raise MlopsError(f"{where}: {match.group(1)[:-1]} '{match.group(2)}' has no value")
            return shlex.quote(str(value))

        return _REFERENCE.sub(one, text)

    def optional_block(match: re.Match[str]) -> str:
        body = match.group(1)
        refs = _REFERENCE.findall(body)
        if any(value_of(kind, name) is None for kind, name in refs):
            return ""
        return body

    text = substitute(_OPTIONAL_BLOCK.sub(optional_block, component.command or ""))
    lexer = shlex.shlex(text, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    if any(_is_operator(token) for token in lexer) or "$" in text or "`" in text:
        # Azure ML runs the command in a shell: `&&`, pipes, redirections and variables
        # work (Azure/azureml-examples cli/jobs/basics/hello-world-env-var.yml runs
        # `echo $hello_env_var`). The runner puts the environment's bin first on PATH.
        return ["/bin/bash", "-c", text]
    argv = shlex.split(text)
    if argv and argv[0] in ("python", "python3"):
        argv[0] = str(python or sys.executable)
    return argv
