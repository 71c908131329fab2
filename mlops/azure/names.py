"""Render the derived Azure names (variables/names.yml) for one environment and check limits.

names.yml builds every name from the per-environment config with ``$(var)`` macros,
exactly as Azure DevOps expands them at run time; rendering them here lets tests and
users see the real names (and Azure's length and character limits) before a run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from mlops.errors import MlopsError
from mlops.settings import ENVIRONMENTS, REPO_ROOT

NAMES_FILE = REPO_ROOT / "mlops" / "devops-pipelines" / "variables" / "names.yml"
MACRO = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_.]*)\)")


@dataclass(frozen=True)
class Rule:
    pattern: str
    why: str


# Azure naming rules (learn.microsoft.com "Naming rules and restrictions for Azure resources",
# Azure ML endpoint and registry docs). Keys are the variable names in names.yml.
RULES: dict[str, Rule] = {
    "resource_group": Rule(r"[\w\-.()]{1,89}[\w\-()]", "1-90 chars: letters, digits, -_.()"),
    "shared_resource_group": Rule(r"[\w\-.()]{1,89}[\w\-()]", "1-90 chars: letters, digits, -_.()"),
    "aml_workspace": Rule(r"[A-Za-z0-9][A-Za-z0-9_\-]{2,32}", "3-33 chars: letters, digits, -_"),
    "dev_resource_group": Rule(r"[\w\-.()]{1,89}[\w\-()]", "1-90 chars: letters, digits, -_.()"),
    "dev_workspace": Rule(r"[A-Za-z0-9][A-Za-z0-9_\-]{2,32}", "3-33 chars: letters, digits, -_"),
    "storage_account": Rule(r"[a-z0-9]{3,24}", "3-24 lowercase letters and digits"),
    "key_vault": Rule(
        r"(?!.*--)[A-Za-z][A-Za-z0-9\-]{1,22}[A-Za-z0-9]",
        "3-24 chars: letter first, letters, digits, single hyphens",
    ),
    "container_registry": Rule(r"[A-Za-z0-9]{5,50}", "5-50 letters and digits"),
    "app_insights": Rule(r"[^%&\\?/]{1,260}", "1-260 chars"),
    "log_analytics": Rule(r"[A-Za-z0-9][A-Za-z0-9\-]{2,61}[A-Za-z0-9]", "4-63 chars: -"),
    "virtual_network": Rule(r"[A-Za-z0-9][\w\-.]{0,62}[\w]", "2-64 chars: -_."),
    "workspace_identity": Rule(r"[A-Za-z0-9][\w\-]{2,127}", "3-128 chars: -_"),
    "compute_identity": Rule(r"[A-Za-z0-9][\w\-]{2,127}", "3-128 chars: -_"),
    "compute_cluster": Rule(r"[A-Za-z][A-Za-z0-9\-]{1,15}", "2-16 chars, letter first"),
    "online_endpoint": Rule(
        r"[A-Za-z][A-Za-z0-9\-]{1,30}[A-Za-z0-9]", "3-32 chars, letter first, letters digits -"
    ),
    "batch_endpoint": Rule(
        r"[A-Za-z][A-Za-z0-9\-]{1,30}[A-Za-z0-9]", "3-32 chars, letter first, letters digits -"
    ),
    "batch_deployment": Rule(r"[A-Za-z][A-Za-z0-9\-]{1,30}[A-Za-z0-9]", "3-32 chars"),
    "aml_registry": Rule(r"[A-Za-z0-9][A-Za-z0-9_\-]{2,32}", "3-33 chars: letters, digits, -_"),
}


@dataclass(frozen=True)
class RenderedNames:
    env: str
    names: dict[str, str]

    def problems(self) -> list[str]:
        out = []
        for key, rule in RULES.items():
            value = self.names.get(key)
            if value is None:
                out.append(f"{NAMES_FILE.name}: variable {key!r} is not defined")
            elif not re.fullmatch(rule.pattern, value):
                out.append(f"{self.env}: {key} = {value!r} breaks Azure's rule ({rule.why})")
        return out


def read_variables(path: Path) -> dict[str, str]:
    """The ``variables:`` mapping (or name/value list) of an Azure DevOps variables template."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise MlopsError(f"{path}: cannot read variables template ({exc})") from exc
    variables = data.get("variables") if isinstance(data, dict) else None
    if isinstance(variables, list):
        variables = {
            v["name"]: v.get("value") for v in variables if isinstance(v, dict) and "name" in v
        }
    if not isinstance(variables, dict):
        raise MlopsError(f"{path}: no 'variables:' block")
    return {str(k): "" if v is None else str(v) for k, v in variables.items()}


def expand(names: dict[str, str], context: dict[str, str], source: Path) -> dict[str, str]:
    """Expand ``$(var)`` macros; an unknown variable is an error naming it (ADO would leave it)."""
    scope = dict(context)
    rendered: dict[str, str] = {}
    for key, template in names.items():

        def sub(match: re.Match[str], key: str = key) -> str:
            var = match.group(1)
            if var not in scope:
                raise MlopsError(f"{source}: variable {key!r} uses $({var}), which is not defined")
            return scope[var]

        value = MACRO.sub(sub, template)
        rendered[key] = value
        scope[key] = value  # later names may build on earlier ones, as in ADO
    return rendered


def render(env: str, root: Path = REPO_ROOT, names_file: Path | None = None) -> RenderedNames:
    """Derived names for ``env`` from ``config-infra-<env>.yml`` and names.yml."""
    if env not in ENVIRONMENTS:
        raise MlopsError(f"unknown environment {env!r}: expected one of {', '.join(ENVIRONMENTS)}")
    config = read_variables(root / f"config-infra-{env}.yml")
    names_path = names_file or root / NAMES_FILE.relative_to(REPO_ROOT)
    return RenderedNames(env, expand(read_variables(names_path), config, names_path))
