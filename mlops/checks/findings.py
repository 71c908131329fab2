"""A finding: one actionable problem at one place in one file."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass


@dataclass(frozen=True, order=True)
class Finding:
    """``path:line: rule: message``; ``path`` is relative to the repository root."""

    path: str
    line: int
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.rule}: {self.message}"


def sort_unique(findings: Iterable[Finding]) -> list[Finding]:
    """Sorted by path, line, rule, message; exact duplicates collapse into one."""
    return sorted(set(findings))


def to_json(findings: Iterable[Finding]) -> str:
    return json.dumps([asdict(f) for f in findings], indent=2)
