"""The one error type of the Azure DevOps twin: a problem at a line of a file."""

from __future__ import annotations

from mlops.errors import MlopsError


class AdoError(MlopsError):
    """``file:line: message`` -- what Azure DevOps would refuse when it compiles a run."""

    def __init__(self, file: str, line: int, message: str) -> None:
        self.file = file
        self.line = line
        self.message = message
        super().__init__(f"{file}:{line}: {message}")


class ExpressionError(ValueError):
    """An expression that does not parse or evaluate; the caller adds file and line."""
