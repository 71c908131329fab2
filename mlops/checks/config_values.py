"""``config-infra-<env>.yml`` values the naming scheme depends on.

Resource names are derived as ``<prefix>-<namespace>-<postfix><environment>``, and the
Azure ML registry shared by all environments as ``mlr-<namespace>-<postfix>``: so the
namespace and postfix must have the right shape and be the same in every file, and
each file's ``environment`` must be the one its name says.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import yaml

from mlops.checks.findings import Finding
from mlops.yamlload import YDict, YList, load_file

RULE = "config-values"

_SHAPES = {
    "namespace": (re.compile(r"^[a-z0-9]{3,8}$"), "3-8 lowercase letters or digits"),
    "postfix": (re.compile(r"^[0-9]{4}$"), "4 digits"),
}
_SHARED = ("namespace", "postfix")
_FILE = re.compile(r"^config-infra-(?P<env>[a-z0-9]+)\.yml$")


def _values(doc: object) -> dict[str, tuple[str, int]]:
    """Variable name -> (value, line), from mapping or list form."""
    variables = doc.get("variables") if isinstance(doc, YDict) else None
    if isinstance(variables, YDict):
        return {
            str(k): (str(v), variables.key_line(k))
            for k, v in variables.items()
            if isinstance(v, str)
        }
    if isinstance(variables, YList):
        return {
            item["name"]: (str(item.get("value", "")), variables.item_line(i))
            for i, item in enumerate(variables)
            if isinstance(item, dict) and isinstance(item.get("name"), str)
        }
    return {}


def check(root: Path) -> list[Finding]:
    findings: list[Finding] = []
    values: dict[str, dict[str, tuple[str, int]]] = {}
    for path in sorted(root.glob("config-infra-*.yml")):
        try:
            values[path.name] = _values(load_file(path, strings=True))
        except yaml.YAMLError:
            continue  # reported by config-keys and the schema check
    for name, declared in values.items():
        for key, (pattern, shape) in _SHAPES.items():
            if key in declared and not pattern.match(declared[key][0]):
                value, line = declared[key]
                findings.append(Finding(name, line, RULE, f"{key} {value!r} must be {shape}"))
        match = _FILE.match(name)
        if match and "environment" in declared and declared["environment"][0] != match["env"]:
            value, line = declared["environment"]
            findings.append(
                Finding(name, line, RULE, f"environment {value!r} in the {match['env']} file")
            )
    for key in _SHARED:
        seen = {name: declared[key] for name, declared in values.items() if key in declared}
        counts = Counter(value for value, _ in seen.values())
        if len(counts) < 2:
            continue
        # Blame the odd ones out; with no majority, every file.
        (top, top_count), (_, next_count) = counts.most_common(2)
        majority = top if top_count > next_count else None
        for name, (value, line) in seen.items():
            if value == majority:
                continue
            others = sorted(f"{n}: {v!r}" for n, (v, _) in seen.items() if v != value)
            findings.append(
                Finding(
                    name,
                    line,
                    RULE,
                    f"{key} {value!r} differs from {', '.join(others)}; every environment "
                    f"shares it (the shared registry is named from it)",
                )
            )
    return findings
