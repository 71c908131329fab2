"""The ``${{...}}`` expression grammar of Azure ML YAML, in one place.

An expression is a dotted path. What each form means (Azure ML docs, "Manage inputs and
outputs of components and pipelines",
https://learn.microsoft.com/azure/machine-learning/how-to-manage-inputs-outputs-pipeline):

- ``parent.inputs.X`` / ``parent.outputs.X``: the enclosing pipeline's ports
- ``parent.jobs.J.inputs.X`` / ``parent.jobs.J.outputs.X``: a sibling job's ports
- ``inputs.X`` / ``outputs.X``: a component's own ports, inside its ``command``
- ``search_space.X``: a sweep's sampled value, inside a sweep trial's command
- ``name``, ``output_name``, ``default_datastore``: filled by Azure ML in output paths
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
_NAME = r"[A-Za-z_][\w-]*"
_FORMS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(rf"parent\.(inputs|outputs)\.({_NAME})"), "parent"),
    (re.compile(rf"parent\.jobs\.({_NAME})\.(inputs|outputs)\.({_NAME})"), "job"),
    (re.compile(rf"(inputs|outputs)\.({_NAME})"), "own"),
    (re.compile(rf"search_space\.({_NAME})"), "search_space"),
    (re.compile(r"(name|output_name|default_datastore)"), "runtime"),
]


@dataclass(frozen=True)
class Expr:
    """One parsed expression. ``scope``: parent | job | own | search_space | runtime;
    ``section``: inputs | outputs (or None); ``job``: the sibling job for scope job."""

    scope: str
    name: str
    section: str | None = None
    job: str | None = None

    def __str__(self) -> str:
        if self.scope == "parent":
            return f"${{{{parent.{self.section}.{self.name}}}}}"
        if self.scope == "job":
            return f"${{{{parent.jobs.{self.job}.{self.section}.{self.name}}}}}"
        if self.scope == "own":
            return f"${{{{{self.section}.{self.name}}}}}"
        if self.scope == "search_space":
            return f"${{{{search_space.{self.name}}}}}"
        return f"${{{{{self.name}}}}}"


class ExpressionError(ValueError):
    """An expression that is none of the forms above."""


def parse(text: str) -> Expr:
    """The inside of one ``${{...}}``."""
    text = text.strip()
    for pattern, scope in _FORMS:
        match = pattern.fullmatch(text)
        if not match:
            continue
        groups = match.groups()
        if scope == "parent":
            return Expr("parent", groups[1], section=groups[0])
        if scope == "job":
            return Expr("job", groups[2], section=groups[1], job=groups[0])
        if scope == "own":
            return Expr("own", groups[1], section=groups[0])
        return Expr(scope, groups[0])
    raise ExpressionError(f"'${{{{{text}}}}}' is not an Azure ML expression")


def texts(value: object) -> list[str]:
    """The insides of every expression in a string value (none for other values)."""
    return EXPRESSION.findall(value) if isinstance(value, str) else []


def find(value: object) -> Iterator[Expr | ExpressionError]:
    """Every expression in a value, parsed; unparsable ones come as the error."""
    for text in texts(value):
        try:
            yield parse(text)
        except ExpressionError as exc:
            yield exc


def whole(value: object) -> Expr | None:
    """The expression when the value is exactly one (a binding), else None (a literal or a
    template). Raises ExpressionError for a whole value that does not parse."""
    if not isinstance(value, str):
        return None
    match = EXPRESSION.fullmatch(value.strip())
    return parse(match.group(1)) if match else None


def substitute(value: str, replace: Callable[[Expr], str]) -> str:
    """``value`` with each expression replaced by ``replace(expr)``."""
    return EXPRESSION.sub(lambda m: replace(parse(m.group(1))), value)
