"""Azure ML command components as the local twin reads them: typed inputs and a command line."""

from __future__ import annotations

import re
import shlex
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mlops.errors import MlopsError

# Input types whose value is a file or folder rather than a literal.
PATH_TYPES = frozenset(
    {"uri_folder", "uri_file", "mltable", "mlflow_model", "custom_model", "triton_model"}
)
_LITERAL_TYPES = frozenset({"string", "integer", "number", "boolean"})
_OPTIONAL_BLOCK = re.compile(r"\$\[\[(.*?)\]\]", re.S)
_REFERENCE = re.compile(r"\$\{\{\s*(inputs|outputs)\.([A-Za-z_][\w-]*)\s*\}\}")


@dataclass(frozen=True)
class InputSpec:
    """One declared component input with the bounds Azure ML enforces."""

    name: str
    type: str
    default: Any = None
    optional: bool = False
    min: float | None = None
    max: float | None = None
    enum: tuple[str, ...] | None = None

    def coerce(self, value: Any, where: str) -> Any:
        """Check a literal against type, enum and bounds; return it in its declared type."""
        if self.type in PATH_TYPES:
            return value
        try:
            if self.type == "integer":
                if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                    raise ValueError
                value = int(value)
            elif self.type == "number":
                if isinstance(value, bool):
                    raise ValueError
                value = float(value)
            elif self.type == "boolean":
                if isinstance(value, str) and value.lower() in ("true", "false"):
                    value = value.lower() == "true"
                elif not isinstance(value, bool):
                    raise ValueError
            else:
                value = str(value)
        except (TypeError, ValueError):
            raise MlopsError(f"{where}: {value!r} is not a valid {self.type}") from None
        if self.enum is not None and str(value) not in self.enum:
            raise MlopsError(f"{where}: {value!r} is not one of {', '.join(self.enum)}")
        if self.min is not None and value < self.min:
            raise MlopsError(f"{where}: {value!r} is below the minimum {self.min:g}")
        if self.max is not None and value > self.max:
            raise MlopsError(f"{where}: {value!r} is above the maximum {self.max:g}")
        return value


@dataclass(frozen=True)
class Component:
    """A command component: where its code lives, what it takes and how it runs."""

    path: Path
    name: str
    command: str
    code: Path
    inputs: Mapping[str, InputSpec] = field(default_factory=dict)
    outputs: Mapping[str, str] = field(default_factory=dict)  # name -> type


def _input_spec(name: str, raw: Any, where: str) -> InputSpec:
    if not isinstance(raw, dict) or "type" not in raw:
        raise MlopsError(f"{where}: input '{name}' needs a 'type'")
    kind = str(raw["type"])
    if kind not in PATH_TYPES | _LITERAL_TYPES:
        raise MlopsError(f"{where}: input '{name}' has unsupported type '{kind}'")
    enum = raw.get("enum")
    return InputSpec(
        name=name,
        type=kind,
        default=raw.get("default"),
        optional=bool(raw.get("optional", False)),
        min=float(raw["min"]) if "min" in raw else None,
        max=float(raw["max"]) if "max" in raw else None,
        enum=tuple(str(v) for v in enum) if enum is not None else None,
    )


def load_component(path: Path) -> Component:
    """Read a command component YAML; ``code`` resolves relative to the component file."""
    path = path.resolve()
    if not path.is_file():
        raise MlopsError(f"component file not found: {path}")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise MlopsError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(raw, dict):
        raise MlopsError(f"{path}: expected a mapping at the top level")
    if raw.get("type", "command") != "command":
        raise MlopsError(f"{path}: only command components run locally, not '{raw['type']}'")
    if not raw.get("command"):
        raise MlopsError(f"{path}: missing 'command'")
    code = (path.parent / str(raw.get("code", "."))).resolve()
    if not code.is_dir():
        raise MlopsError(f"{path}: code folder {code} does not exist")
    inputs = {n: _input_spec(n, spec, str(path)) for n, spec in (raw.get("inputs") or {}).items()}
    outputs = {
        n: str((spec or {}).get("type", "uri_folder"))
        for n, spec in (raw.get("outputs") or {}).items()
    }
    return Component(
        path=path,
        name=str(raw.get("name", path.stem)),
        command=str(raw["command"]),
        code=code,
        inputs=inputs,
        outputs=outputs,
    )


def render_command(
    component: Component, inputs: Mapping[str, Any], outputs: Mapping[str, Path]
) -> list[str]:
    """The argv of a component's command with inputs and outputs substituted.

    ``$[[...]]`` blocks are kept only when every input they reference is set, as in Azure
    ML. A leading ``python``/``python3`` becomes the current interpreter, so steps run in
    the same environment as the runner.
    """
    where = str(component.path)

    def value_of(kind: str, name: str) -> Any:
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

    argv = shlex.split(substitute(_OPTIONAL_BLOCK.sub(optional_block, component.command)))
    if argv and argv[0] in ("python", "python3"):
        argv[0] = sys.executable
    return argv
