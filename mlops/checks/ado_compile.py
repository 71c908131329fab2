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


def check(project: AdoProject, flagged: Iterable[str]) -> list[Finding]:
    """Compile each entry pipeline not already flagged; an error is one finding at its line."""
    skip = set(flagged)
    expander = Expander(project.root)
    findings = []
    for ado_file in sorted(project.files.values(), key=lambda f: f.rel):
        if ado_file.kind != "pipeline" or ado_file.rel in skip or ado_file.syntax_error:
            continue
        try:
            given = _placeholders(ado_file.doc, ado_file.rel)
            expander.compile(ado_file.path, given)
        except AdoError as exc:
            if exc.file not in skip:
                findings.append(Finding(exc.file, exc.line, RULE, exc.message))
    return findings
