"""All Azure DevOps checks over one repository root."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from mlops.checks import ado_compile, ado_schema, ado_scripts, ado_templates, ado_variables
from mlops.checks.ado_model import AdoProject, discover
from mlops.checks.findings import Finding


def _syntax_and_schema(project: AdoProject, wanted: Callable[[str], bool]) -> list[Finding]:
    findings = []
    for ado_file in list(project.files.values()):
        if not wanted(ado_file.rel):
            continue
        if ado_file.syntax_error is not None:
            line, message = ado_file.syntax_error
            findings.append(Finding(ado_file.rel, line, ado_schema.RULE, f"YAML: {message}"))
        elif ado_file.kind is None:
            findings.append(
                Finding(
                    ado_file.rel,
                    1,
                    ado_schema.RULE,
                    "not a pipeline or template: expected stages, jobs, steps, extends "
                    "or variables at the top level",
                )
            )
        else:
            findings.extend(ado_schema.check(ado_file.rel, ado_file.doc, ado_file.kind))
    return findings


def check(root: Path, wanted: Callable[[str], bool] = lambda rel: True) -> list[Finding]:
    """Schema, templates and parameters, variables, scripts and continueOnError.

    Templates and variables are judged across files, so they always run in full;
    the schema and the scripts (the slow parts) only for files ``wanted`` accepts.
    """
    project = discover(root)
    findings = ado_templates.check(project)  # loads included templates into the project
    findings += ado_variables.check(project)
    findings += _syntax_and_schema(project, wanted)
    findings += ado_scripts.check_scripts(project, wanted)
    findings += ado_scripts.check_continue_on_error(project)
    # The twin's expander compiles what the rules above passed (one model of the language).
    findings += ado_compile.check(project, {f.path for f in findings if f.rule.startswith("ado-")})
    return findings
