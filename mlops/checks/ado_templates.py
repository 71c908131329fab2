"""Template references and parameters: targets exist, parameters declared, passed, typed."""

from __future__ import annotations

from typing import Any

from mlops.ado.expand import parameter_problem
from mlops.checks import ado_schema
from mlops.checks.ado_model import (
    EXPRESSION,
    PARAMETER_USE,
    AdoFile,
    AdoProject,
    TemplateRef,
    walk_strings,
)
from mlops.checks.findings import Finding
from mlops.yamlload import YDict, line_at

TEMPLATE = "ado-template"
PARAMETER = "ado-parameter"


def _has_expression(value: Any) -> bool:
    return any("${{" in text or "$(" in text or "$[" in text for _, text in walk_strings(value))


def type_error(name: str, declared: YDict, value: Any) -> str | None:
    """Why ``value`` does not fit the declared parameter (type, then ``values:``), or None:
    the expander's rules (mlops.ado.expand.coerce), one model of the language."""
    if _has_expression(value):
        return None  # decided when the pipeline is compiled; nothing literal to check
    return parameter_problem(name, declared, value)


def _check_ref(project: AdoProject, ref: TemplateRef) -> list[Finding]:
    src = ref.source
    if ref.target is None:
        return []
    target = project.get(ref.target)
    if target is None:
        return [
            Finding(
                src.rel,
                ref.line,
                TEMPLATE,
                f"template {ref.raw!r} not found (looked for {project.rel(ref.target)})",
            )
        ]
    if target.doc is None:
        return []  # its syntax error is reported on the template itself
    findings = []
    expected = ref.context if ref.context != "extends" else None
    if expected and target.kind not in (expected, None) and target.kind != "pipeline":
        findings.append(
            Finding(
                src.rel,
                ref.line,
                TEMPLATE,
                f"template {ref.raw!r} holds {target.kind} but is used in {expected}",
            )
        )
    declared = target.parameters
    passed = ref.node.get("parameters")
    passed = passed if isinstance(passed, YDict) else YDict()
    for name, value in passed.items():
        if ado_schema.is_expression(name):
            continue
        line = passed.key_line(name)
        if name not in declared:
            findings.append(
                Finding(
                    src.rel,
                    line,
                    PARAMETER,
                    f"parameter {name!r} is not declared by template {target.rel}",
                )
            )
            continue
        spec = declared[name]
        problem = type_error(name, spec, value)
        if problem:
            findings.append(
                Finding(src.rel, line, PARAMETER, f"parameter {name!r} of {target.rel}: {problem}")
            )
    spread = any(ado_schema.is_expression(k) for k in passed)
    for name, spec in declared.items():
        if "default" not in spec and name not in passed and not spread:
            findings.append(
                Finding(
                    src.rel,
                    ref.line,
                    PARAMETER,
                    f"required parameter {name!r} of template {target.rel} is not passed",
                )
            )
    return findings


def _check_declarations(ado_file: AdoFile) -> list[Finding]:
    """Defaults fit their type and values; every ``parameters.x`` used is declared."""
    findings = []
    declared = ado_file.parameters
    for name, spec in declared.items():
        if "default" in spec:
            default = spec["default"]
            problem = type_error(name, spec, default)
            if problem:
                findings.append(
                    Finding(
                        ado_file.rel,
                        spec.key_line("default"),
                        PARAMETER,
                        f"default of parameter {name!r}: {problem}",
                    )
                )
    for path, text in walk_strings(ado_file.doc):
        for expression in EXPRESSION.findall(text):
            for match in PARAMETER_USE.finditer(expression):
                name = match.group(1) or match.group(2)
                if name not in declared:
                    findings.append(
                        Finding(
                            ado_file.rel,
                            line_at(ado_file.doc, list(path)),
                            PARAMETER,
                            f"'parameters.{name}' is used but not declared in parameters:",
                        )
                    )
    return findings


def check(project: AdoProject) -> list[Finding]:
    """Template and parameter findings of every loaded file (and the files they include)."""
    findings: list[Finding] = []
    seen: set[str] = set()
    pending = list(project.files.values())
    while pending:
        ado_file = pending.pop()
        if ado_file.rel in seen or ado_file.doc is None:
            continue
        seen.add(ado_file.rel)
        findings.extend(_check_declarations(ado_file))
        for ref in project.template_refs(ado_file):
            findings.extend(_check_ref(project, ref))
            if ref.target is not None and (target := project.get(ref.target)) is not None:
                pending.append(target)
    return findings
