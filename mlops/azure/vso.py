"""Azure DevOps logging commands (``##vso[...]``), escaped so a value cannot break them."""

from __future__ import annotations

# Azure Pipelines unescapes these in logging-command properties and data.
_ESCAPES = (("%", "%AZP25"), ("\r", "%0D"), ("\n", "%0A"), (";", "%3B"), ("]", "%5D"))


def escape(value: str) -> str:
    """Escape a value for a logging command; ``%`` goes first so escapes stay unambiguous."""
    for raw, escaped in _ESCAPES:
        value = value.replace(raw, escaped)
    return value


def set_variable(name: str, value: str, *, is_output: bool = False) -> str:
    """The line that sets pipeline variable ``name`` (an output variable when ``is_output``)."""
    flags = ";isOutput=true" if is_output else ""
    return f"##vso[task.setvariable variable={escape(name)}{flags}]{escape(value)}"
