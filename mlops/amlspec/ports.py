"""Declared inputs and outputs of components and pipelines, with Azure ML's bounds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlops.errors import MlopsError

# Types whose value is a file or folder rather than a literal.
PATH_TYPES = frozenset(
    {"uri_folder", "uri_file", "mltable", "mlflow_model", "custom_model", "triton_model"}
)
LITERAL_TYPES = frozenset({"string", "integer", "number", "boolean"})
# Azure ML input and output modes (azure-ai-ml 1.35.2 azure/ai/ml/constants/_common.py:
# InputOutputModes); locally every mode is a path on disk.
INPUT_MODES = frozenset(
    {"mount", "ro_mount", "rw_mount", "download", "direct", "eval_mount", "eval_download"}
)
OUTPUT_MODES = frozenset({"mount", "rw_mount", "upload", "direct"})


@dataclass(frozen=True)
class InputSpec:
    """One declared input. For a pipeline job's own inputs ``default`` is the value."""

    name: str
    type: str
    default: Any = None
    optional: bool = False
    min: float | None = None
    max: float | None = None
    enum: tuple[str, ...] | None = None
    mode: str | None = None
    line: int = 1

    @property
    def required(self) -> bool:
        return self.default is None and not self.optional

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
class OutputSpec:
    """One declared output; ``path`` is where it goes when the spec says (else the run's)."""

    name: str
    type: str = "uri_folder"
    mode: str | None = None
    path: str | None = None
    line: int = 1


def literal_type(value: Any) -> str:
    """The input type Azure ML infers for a literal pipeline input."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    return "string"
