"""Every entry pipeline compiles: the Azure DevOps twin's expander (mlops.ado.expand) runs it.

This is the check that shares ``mlops ado``'s model of the language instead of a second
reading: templates inlined, parameters typed with their defaults, ``${{ }}`` evaluated.
Run parameters without a default get a placeholder of their type (Azure DevOps would ask
for them when the run is queued). The finer rules (ado-template, ado-parameter, ...) keep
their own messages; this one reports only pipelines none of those flagged, so a mistake is
reported once.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from mlops.ado.errors import AdoError
from mlops.ado.expand import Expander, declared_parameters
from mlops.checks.ado_model import AdoProject
from mlops.checks.findings import Finding

RULE = "ado-compile"
_PLACEHOLDER = {"string": "placeholder", "number": "0", "boolean": "false", "object": "[]"}


def _placeholders(doc: Any, file: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for name, decl in declared_parameters(doc, file).items():
        if "default" in decl:
            continue
        allowed = decl.get("values")
        if isinstance(allowed, list) and allowed:
            values[name] = str(allowed[0])
        else:
            values[name] = _PLACEHOLDER.get(str(decl.get("type", "string")), "[]")
    return values


def _choices(doc: Any, file: str) -> list[dict[str, str]]:
    """One run per listed value of each parameter with ``values:`` (the others at default),
    so a branch only a non-default choice takes (``prep: parallel``) is compiled too."""
    runs = []
    for name, decl in declared_parameters(doc, file).items():
        allowed = decl.get("values")
        if isinstance(allowed, list):
            runs.extend({name: str(value)} for value in allowed if value != decl.get("default"))
    return runs


def check(project: AdoProject, flagged: Iterable[str]) -> list[Finding]:
    """Compile each entry pipeline not already flagged, with its defaults and with each
    listed parameter value; an error is one finding at its line (the first choice's)."""
    skip = set(flagged)
    expander = Expander(project.root)
    findings = []
    for ado_file in sorted(project.files.values(), key=lambda f: f.rel):
        if ado_file.kind != "pipeline" or ado_file.rel in skip or ado_file.syntax_error:
            continue
        given = _placeholders(ado_file.doc, ado_file.rel)
        for choice in [{}, *_choices(ado_file.doc, ado_file.rel)]:
            try:
                expander.compile(ado_file.path, {**given, **choice})
            except AdoError as exc:
                if exc.file not in skip:
                    with_ = "".join(f" (with {k}={v})" for k, v in choice.items())
                    findings.append(Finding(exc.file, exc.line, RULE, exc.message + with_))
                break
    return findings
