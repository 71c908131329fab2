"""``config-infra-<env>.yml`` files declare the same variables, so no environment lacks one."""

from __future__ import annotations

from pathlib import Path

import yaml

from mlops.checks.findings import Finding
from mlops.yamlload import YDict, YList, error_line, load_file

RULE = "config-keys"

# Keys that may legitimately exist in only some environments. Keep it empty unless a
# key truly has no meaning elsewhere: a missing key in one file is how prod breaks.
PER_ENVIRONMENT_ONLY: frozenset[str] = frozenset()


def _keys(doc: object) -> dict[str, int]:
    """Variable names with their lines, from mapping or list form."""
    if not isinstance(doc, YDict):
        return {}
    variables = doc.get("variables")
    if isinstance(variables, YDict):
        return {str(k): variables.key_line(k) for k in variables}
    if isinstance(variables, YList):
        return {
            item["name"]: variables.item_line(i)
            for i, item in enumerate(variables)
            if isinstance(item, dict) and isinstance(item.get("name"), str)
        }
    return {}


def check(root: Path) -> list[Finding]:
    files = sorted(root.glob("config-infra-*.yml"))
    if len(files) < 2:
        return []
    keys: dict[str, dict[str, int]] = {}
    findings = []
    for path in files:
        try:
            doc = load_file(path, strings=True)
        except yaml.YAMLError as exc:
            findings.append(Finding(path.name, error_line(exc), RULE, "not valid YAML"))
            continue
        keys[path.name] = _keys(doc)
        if not keys[path.name]:
            findings.append(Finding(path.name, 1, RULE, "no variables: declared"))
    everything = set().union(*(set(k) for k in keys.values())) - PER_ENVIRONMENT_ONLY
    for name, declared in keys.items():
        variables_line = min(declared.values(), default=1)
        for missing in sorted(everything - set(declared)):
            holders = sorted(n for n, k in keys.items() if missing in k)
            findings.append(
                Finding(
                    name,
                    variables_line,
                    RULE,
                    f"variable {missing!r} is missing here but declared in {', '.join(holders)}",
                )
            )
    return findings
