"""A problem with a spec: one file, one line, one rule, one message."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mlops.errors import MlopsError

BINDING = "aml-binding"
INPUT = "aml-input"
CYCLE = "aml-cycle"
KEY = "aml-key"
PATH = "aml-path"
REFERENCE = "aml-reference"


@dataclass(frozen=True)
class Problem:
    """What the validator reports as a finding and the runner raises before running."""

    path: Path
    line: int
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


class SpecError(MlopsError):
    """A spec Azure ML would refuse too; carries the problem."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


class Problems(list[Problem]):
    """Problems collected while loading and checking; ``raise_first`` for the runner."""

    def add(self, path: Path, line: int, rule: str, message: str) -> None:
        self.append(Problem(path, line, rule, message))

    def raise_first(self) -> None:
        if self:
            raise SpecError(self[0])
