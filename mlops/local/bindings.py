"""Azure ML data-binding expressions such as ``${{parent.jobs.j.outputs.o}}``."""

from __future__ import annotations

import re
from dataclasses import dataclass

from mlops.errors import MlopsError

_EXPRESSION = re.compile(r"\$\{\{\s*([^}]*?)\s*\}\}")
_PARENT_INPUT = re.compile(r"parent\.inputs\.([A-Za-z_][\w-]*)")
_JOB_OUTPUT = re.compile(r"parent\.jobs\.([A-Za-z_][\w-]*)\.outputs\.([A-Za-z_][\w-]*)")
_PARENT_OUTPUT = re.compile(r"parent\.outputs\.([A-Za-z_][\w-]*)")


@dataclass(frozen=True)
class ParentInput:
    """``${{parent.inputs.<name>}}``: a pipeline-level input."""

    name: str


@dataclass(frozen=True)
class JobOutput:
    """``${{parent.jobs.<job>.outputs.<output>}}``: an output of another job."""

    job: str
    output: str


@dataclass(frozen=True)
class ParentOutput:
    """``${{parent.outputs.<name>}}``: a pipeline-level output (only on job outputs)."""

    name: str


Binding = ParentInput | JobOutput | ParentOutput


def parse_expression(text: str, where: str) -> Binding:
    """Parse the inside of one ``${{...}}`` expression; ``where`` names it in errors."""
    for pattern, make in (
        (_PARENT_INPUT, lambda m: ParentInput(m.group(1))),
        (_JOB_OUTPUT, lambda m: JobOutput(m.group(1), m.group(2))),
        (_PARENT_OUTPUT, lambda m: ParentOutput(m.group(1))),
    ):
        match = pattern.fullmatch(text)
        if match:
            return make(match)
    raise MlopsError(f"{where}: unsupported binding '${{{{{text}}}}}'")


def whole_binding(value: object, where: str) -> Binding | None:
    """The binding when ``value`` is exactly one expression, else None (a literal)."""
    if not isinstance(value, str):
        return None
    match = _EXPRESSION.fullmatch(value.strip())
    return parse_expression(match.group(1), where) if match else None


def embedded_bindings(value: object, where: str) -> list[Binding]:
    """Every binding found anywhere inside a string value (Azure allows interpolation)."""
    if not isinstance(value, str):
        return []
    return [parse_expression(m.group(1), where) for m in _EXPRESSION.finditer(value)]


def interpolate(value: str, where: str, lookup: dict[Binding, object]) -> str:
    """Replace each expression embedded in ``value`` by its already-resolved value."""

    def replace(match: re.Match[str]) -> str:
        binding = parse_expression(match.group(1), where)
        if lookup.get(binding) is None:
            raise MlopsError(f"{where}: '{match.group(0)}' has no value")
        return str(lookup[binding])

    return _EXPRESSION.sub(replace, value)
