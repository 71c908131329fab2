"""Every argument the stacks set exists in the pinned provider / ARM API version (issue 14).

A Terraform argument the pinned provider lacks fails `terraform validate` only once someone runs
it; an ARM property the API version lacks is dropped with at most a warning, so a security
setting would silently not exist (anonymousPullEnabled on registries@2023-07-01 was one). The
facts are committed fixtures extracted from the sources at the pinned versions:
fixtures/provider_arguments.json (infrastructure/tools/extract_provider_arguments.py, azurerm and
azapi docs at the tags in versions.tf) and fixtures/arm_properties.json
(infrastructure/tools/extract_arm_properties.py, Azure/bicep-types-az).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import hcl2
import pytest

from tests.infrastructure import iac_model as iac

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infrastructure"
FIXTURES = Path(__file__).with_name("fixtures")
PROVIDER_FACTS = json.loads((FIXTURES / "provider_arguments.json").read_text())
ARM_FACTS = json.loads((FIXTURES / "arm_properties.json").read_text())

# Terraform meta-arguments and python-hcl2 bookkeeping keys: not provider arguments.
_META = {"count", "for_each", "depends_on", "lifecycle", "provider"}
_HCL = {"__is_block__", "__comments__", "__start_line__", "__end_line__"}
# Bicep language keys of a resource declaration, not ARM properties.
_BICEP_KEYS = {"parent", "scope", "dependsOn"}


def _pinned_versions(infra: Path) -> dict[str, set[str]]:
    pins: dict[str, set[str]] = {"azurerm": set(), "azapi": set()}
    for path in sorted((infra / "terraform").glob("*/versions.tf")):
        text = path.read_text()
        for name, versions in pins.items():
            found = re.search(rf'{name}\s*=\s*\{{[^}}]*version\s*=\s*"=\s*([\d.]+)"', text, re.S)
            if re.search(rf'source\s*=\s*"[^"]*/{name}"', text):
                versions.add(found.group(1) if found else f"{path}: unpinned")
    return pins


def _block_problems(
    where: str, body: dict[str, Any], sections: dict[str, list[str]], section: str
) -> list[str]:
    allowed = set(sections.get(section, []))
    problems = []
    for key, value in body.items():
        if key in _HCL or (section == "" and key in _META):
            continue
        if key not in allowed:
            name = f"{section}.{key}" if section else key
            problems.append(f"{where}: argument {name!r} is not in the pinned provider docs")
            continue
        blocks = value if isinstance(value, list) else []
        for block in blocks:
            if isinstance(block, dict) and block.get("__is_block__"):
                problems += _block_problems(where, block, sections, key)
    return problems


def terraform_problems(infra: Path = INFRA) -> list[str]:
    """One line (file, resource, argument) per argument not in the pinned provider's docs."""
    problems = []
    for path in sorted((infra / "terraform").rglob("*.tf")):
        parsed = hcl2.loads(path.read_text())
        rel = path.relative_to(infra.parent)
        for kind in ("resource", "data"):
            for block in parsed.get(kind, []):
                for rtype, named in block.items():
                    rtype = rtype.strip('"')
                    facts = PROVIDER_FACTS[kind].get(rtype)
                    for rname, conf in named.items():
                        where = f"{rel}: {kind} {rtype}.{rname.strip(chr(34))}"
                        if facts is None:
                            problems.append(f"{where}: type not in the fixture (re-extract it)")
                            continue
                        problems += _block_problems(where, conf, facts["arguments"], "")
    return problems


def _arm_problems(where: str, value: Any, tree: Any, path: str) -> list[str]:
    if tree is None or tree == "..." or not isinstance(value, dict | list):
        return []
    if isinstance(value, list):
        return [p for item in value for p in _arm_problems(where, item, tree, path)]
    problems = []
    for key, sub in value.items():
        if key in tree:
            problems += _arm_problems(where, sub, tree[key], f"{path}.{key}")
        elif "*" in tree:
            problems += _arm_problems(where, sub, tree["*"], f"{path}.{key}")
        else:
            problems.append(f"{where}: property {path}.{key} is not in the API version")
    return problems


def _bicep_instances(infra: Path) -> list[tuple[str, str, dict[str, Any]]]:
    """(where, type@version, body) of every Bicep resource, in every networking scenario.

    One environment is enough: environments differ in values, not in which properties are set.
    """
    found = {}
    user = {"userObjectId": "00000000-0000-0000-0000-000000000000"}
    for scenario in ({}, {"privateNetworkingEnabled": False}, {"allowedIpRanges": ["1.2.3.4"]}):
        model = iac.bicep_env(infra / "bicep", "dev", {**user, **scenario})
        for inst in model.instances:
            found[(inst.symbol, json.dumps(inst.body, default=repr, sort_keys=True))] = inst
        for inst in iac.bicep_shared(infra / "bicep", scenario).instances:
            found[(inst.symbol, json.dumps(inst.body, default=repr, sort_keys=True))] = inst
    return [(inst.symbol, f"{inst.kind}@{inst.api_version}", inst.body) for inst in found.values()]


def _azapi_instances(infra: Path) -> list[tuple[str, str, dict[str, Any]]]:
    """(where, type@version, body) of every azapi resource of the Terraform stacks."""
    user = {"user_object_id": "00000000-0000-0000-0000-000000000000"}
    models = [
        iac.terraform_env(infra / "terraform", "dev", {**user, **scenario})
        for scenario in ({}, {"allowed_ip_ranges": ["1.2.3.4"]})
    ] + [iac.terraform_shared(infra / "terraform", {})]
    return [
        (inst.symbol, str(inst.body.get("type")), inst.body.get("body", {}))
        for model in models
        for inst in model.instances
        if inst.kind.startswith("azapi_") and isinstance(inst.body.get("body"), dict)
    ]


def arm_problems(infra: Path = INFRA) -> list[str]:
    """One line (resource, property path) per property its ARM API version does not define."""
    problems = []
    for where, type_version, body in _bicep_instances(infra) + _azapi_instances(infra):
        facts = ARM_FACTS["types"].get(type_version)
        if facts is None:
            problems.append(f"{where}: {type_version} not in the fixture (re-extract it)")
            continue
        props = {k: v for k, v in body.items() if k not in _BICEP_KEYS}
        problems += _arm_problems(f"{where} ({type_version})", props, facts["properties"], "")
    return sorted(set(problems))


# ------------------------------------------------------------------------------------- tests


def test_fixtures_record_their_origin_and_the_pinned_versions() -> None:
    origin = PROVIDER_FACTS["_origin"]["providers"]
    assert _pinned_versions(INFRA) == {
        "azurerm": {origin["azurerm"]["tag"].lstrip("v")},
        "azapi": {origin["azapi"]["tag"].lstrip("v")},
    }
    assert origin["azurerm"]["tag"] == "v4.20.0"
    assert all("@" in facts["origin"] for facts in PROVIDER_FACTS["resource"].values())
    assert re.fullmatch(r"[0-9a-f]{40}", ARM_FACTS["_origin"]["commit"])
    assert all(f["origin"].endswith("types.json") for f in ARM_FACTS["types"].values())


def test_terraform_arguments_exist_in_the_pinned_providers() -> None:
    assert terraform_problems() == []


def test_bicep_and_azapi_properties_exist_in_their_api_versions() -> None:
    assert arm_problems() == []


@pytest.fixture()
def infra_copy(tmp_path: Path) -> Path:
    target = tmp_path / "infrastructure"
    shutil.copytree(INFRA, target, ignore=shutil.ignore_patterns("pipelines", "tools"))
    return target


def _mutate(infra: Path, relative: str, old: str, new: str) -> None:
    path = infra / relative
    text = path.read_text()
    assert text.count(old) == 1, f"mutation anchor {old!r} not found once in {relative}"
    path.write_text(text.replace(old, new))


def test_rejects_an_argument_of_a_later_provider_version(infra_copy: Path) -> None:
    # rbac_authorization_enabled replaced enable_rbac_authorization only after 4.20.0.
    _mutate(
        infra_copy,
        "terraform/aml-managed-smi/main.tf",
        "enable_rbac_authorization     = true",
        "rbac_authorization_enabled    = true",
    )
    assert terraform_problems(infra_copy) == [
        "infrastructure/terraform/aml-managed-smi/main.tf: resource azurerm_key_vault.this: "
        "argument 'rbac_authorization_enabled' is not in the pinned provider docs"
    ]


def test_rejects_an_unknown_nested_block_argument(infra_copy: Path) -> None:
    _mutate(
        infra_copy,
        "terraform/aml-managed-smi/main.tf",
        "scale_down_nodes_after_idle_duration = var.compute_idle_before_scale_down",
        "idle_time_before_scale_down = var.compute_idle_before_scale_down",
    )
    assert terraform_problems(infra_copy) == [
        "infrastructure/terraform/aml-managed-smi/main.tf: resource "
        "azurerm_machine_learning_compute_cluster.cpu: argument "
        "'scale_settings.idle_time_before_scale_down' is not in the pinned provider docs"
    ]


def test_rejects_a_property_the_api_version_lacks(infra_copy: Path) -> None:
    # Item 9 of issue 14: anonymousPullEnabled does not exist in registries@2023-07-01.
    _mutate(
        infra_copy,
        "bicep/modules/workspace.bicep",
        "resource containerRegistry 'Microsoft.ContainerRegistry/registries@2025-04-01'",
        "resource containerRegistry 'Microsoft.ContainerRegistry/registries@2023-07-01'",
    )
    assert arm_problems(infra_copy) == [
        "main/workspace(workspace):containerRegistry "
        "(Microsoft.ContainerRegistry/registries@2023-07-01): "
        "property .properties.anonymousPullEnabled is not in the API version"
    ]


def test_rejects_an_azapi_body_property(infra_copy: Path) -> None:
    _mutate(
        infra_copy,
        "terraform/aml-managed-smi/main.tf",
        'systemDatastoresAuthMode    = "Identity"',
        'systemDatastoreAuthMode     = "Identity"',
    )
    problems = arm_problems(infra_copy)
    assert problems and all("properties.systemDatastoreAuthMode" in p for p in problems)
    assert {p.split(" (")[0] for p in problems} == {"aml-managed-smi:azapi_resource.workspace"}
