"""Every ``$(name)`` an entry pipeline can reach is defined somewhere it can see.

Defined means: a ``variables:`` section of the pipeline or of any template it
includes (variable templates included), a matrix leg, an output variable set
with ``##vso[task.setvariable ...]`` by a step, or a predefined Azure DevOps
variable. Template parameters are not macros: ``$(x)`` does not see
``parameters.x`` (that is ``${{ parameters.x }}``, checked as a parameter).
Names compare case-insensitively, as Azure DevOps does.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field

from mlops.checks.ado_model import AdoFile, AdoProject, walk_dicts, walk_strings
from mlops.checks.findings import Finding
from mlops.yamlload import YDict, YList, line_at

RULE = "ado-variable"

MACRO = re.compile(r"\$\(([A-Za-z_][\w.\-]*(?::[^)\s]*)?)\)")
SET_VARIABLE = re.compile(r"##vso\[task\.setvariable\s+([^\]]*)\]", re.IGNORECASE)
EXPRESSION_VARIABLE = re.compile(
    r"\bvariables\s*(?:\.\s*([A-Za-z_][\w.\-]*)|\[\s*'([^']+)'\s*\])", re.IGNORECASE
)
RUNTIME = re.compile(r"\$\[(.*?)\]\s*$", re.DOTALL)
COMPILE = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)

# Predefined variable namespaces (https://learn.microsoft.com/azure/devops/pipelines/build/variables).
PREDEFINED_PREFIXES = (
    "agent.",
    "build.",
    "system.",
    "pipeline.",
    "environment.",
    "release.",
    "resources.",
    "strategy.",
    "checks.",
    "common.",
    "deployment.",
)
PREDEFINED = {"tf_build", "pipeline.workspace"}
# Run-number tokens valid in ``name:`` (and harmless elsewhere).
RUN_NUMBER_TOKENS = {
    "date",
    "dayofmonth",
    "dayofyear",
    "hours",
    "minutes",
    "month",
    "rev",
    "seconds",
    "year",
    "builddefinitionname",
    "buildid",
    "sourcebranch",
    "sourcebranchname",
    "teamproject",
}
_SCRIPT_KEYS = {"bash", "script", "inlineScript", "powershell", "pwsh"}


def is_predefined(name: str) -> bool:
    lowered = name.lower()
    base = lowered.split(":", 1)[0]
    return (
        lowered in PREDEFINED
        or base in RUN_NUMBER_TOKENS
        or lowered.startswith(PREDEFINED_PREFIXES)
    )


@dataclass
class Scope:
    """What one entry pipeline defines, across every file it includes."""

    names: set[str] = field(default_factory=set)
    output_names: set[str] = field(default_factory=set)
    has_group: bool = False

    def defines(self, name: str) -> bool:
        lowered = name.lower()
        if lowered in self.names or is_predefined(name):
            return True
        # ``step.var`` or ``job.step.var`` for output variables set with isOutput=true.
        return "." in lowered and lowered.rsplit(".", 1)[1] in self.output_names


def _collect(ado_file: AdoFile, scope: Scope) -> None:
    for node in walk_dicts(ado_file.doc):
        variables = node.get("variables")
        if isinstance(variables, YDict):
            scope.names.update(str(k).lower() for k in variables)
        elif isinstance(variables, YList):
            for item in variables:
                if isinstance(item, dict):
                    if isinstance(item.get("name"), str):
                        scope.names.add(item["name"].lower())
                    if "group" in item:
                        scope.has_group = True
        strategy = node.get("strategy")
        if isinstance(strategy, YDict) and isinstance(strategy.get("matrix"), YDict):
            for leg in strategy["matrix"].values():
                if isinstance(leg, dict):
                    scope.names.update(str(k).lower() for k in leg)
    for _, text in walk_strings(ado_file.doc):
        for match in SET_VARIABLE.finditer(text):
            fields = dict(
                part.strip().split("=", 1) for part in match.group(1).split(";") if "=" in part
            )
            fields = {k.strip().lower(): v.strip() for k, v in fields.items()}
            name = fields.get("variable")
            if name:
                scope.names.add(name.lower())
                if fields.get("isoutput", "").lower() == "true":
                    scope.output_names.add(name.lower())


def is_command(name: str) -> bool:
    """``$(pwd)`` in a script is bash command substitution when no variable has that name."""
    return "." not in name and (shutil.which(name) is not None or name in _BASH_BUILTINS)


_BASH_BUILTINS = {"pwd", "echo", "printf", "read", "type", "command", "dirs", "jobs", "umask"}


def _references(ado_file: AdoFile) -> list[tuple[int, str, bool]]:
    """(line, name, in_script) of every variable reference in the file."""
    refs = []
    for path, text in walk_strings(ado_file.doc):
        in_script = bool(path) and str(path[-1]) in _SCRIPT_KEYS
        line = line_at(ado_file.doc, list(path))
        for match in MACRO.finditer(text):
            refs.append((line, match.group(1), in_script))
        expressions = [m.group(1) for m in COMPILE.finditer(text)]
        if runtime := RUNTIME.search(text.strip()):
            expressions.append(runtime.group(1))
        if path and str(path[-1]) == "condition":
            expressions.append(text)
        for expression in expressions:
            for match in EXPRESSION_VARIABLE.finditer(expression):
                refs.append((line, match.group(1) or match.group(2), False))
    return refs


def _reachable(project: AdoProject, entry: AdoFile) -> list[AdoFile]:
    seen: dict[str, AdoFile] = {}
    pending = [entry]
    while pending:
        current = pending.pop()
        if current.rel in seen or current.doc is None:
            continue
        seen[current.rel] = current
        for ref in project.template_refs(current):
            if ref.target is not None and (target := project.get(ref.target)) is not None:
                pending.append(target)
    return list(seen.values())


def check(project: AdoProject) -> list[Finding]:
    """Undefined-variable findings, judged per entry pipeline over everything it includes."""
    findings: list[Finding] = []
    entries = [f for f in list(project.files.values()) if f.kind == "pipeline"]
    for entry in entries:
        files = _reachable(project, entry)
        scope = Scope()
        for ado_file in files:
            _collect(ado_file, scope)
        if scope.has_group:
            continue  # a variable group's contents live in Azure DevOps, not in the repo
        for ado_file in files:
            for line, name, in_script in _references(ado_file):
                if scope.defines(name) or (in_script and is_command(name)):
                    continue
                where = "" if ado_file is entry else f" (included by {entry.rel})"
                findings.append(
                    Finding(
                        ado_file.rel,
                        line,
                        RULE,
                        f"$({name}) is not defined: no variable, variable template, output "
                        f"variable or predefined variable has that name{where}",
                    )
                )
    return findings
