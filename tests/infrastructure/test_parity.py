"""Terraform and Bicep declare the same infrastructure (issues 8 and 14).

Same resource kinds, same role assignments (principal, built-in role GUID, scope), same security
settings in every networking scenario, and resource names that follow config-infra-<env>.yml and
Azure's length limits. The negative tests mutate a copy of the stacks and expect the very check
that guards the real files to name the change.
"""

from __future__ import annotations

import ipaddress
import re
import shutil
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.infrastructure import iac_model as iac

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infrastructure"
ENVIRONMENTS = ("dev", "stage", "prod")
USER_ID = "00000000-0000-0000-0000-0000000000aa"


BUILT_IN_ROLES = {
    "Azure AI Administrator": "b78c5d69-af96-48a3-bf8d-a8b4d589de94",
    "Azure AI Developer": "64702f94-c441-49e6-a78b-ef80e0188fee",
    "AzureML Compute Operator": "e503ece1-11d0-4e8e-8e2c-7a6c3bf38815",
    "AzureML Data Scientist": "f6c7c914-8db3-469d-8ca1-694a8f32e121",
    "Storage Blob Data Contributor": "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
    "Key Vault Secrets User": "4633458b-17de-408a-b874-0445c86b69e6",
    "AcrPull": "7f951dda-4ed3-4680-a7ca-43fe172d538d",
    "Storage File Data Privileged Contributor": "69566ab7-960f-475b-8e7c-b3118f30c6bd",
}

# The assignments issue 8 asks for (the workspace identity's own roles come on top).
REQUIRED_ROLES = {
    ("user", "Azure AI Developer", "workspace"),
    ("user", "AzureML Compute Operator", "workspace"),
    ("user", "AzureML Data Scientist", "workspace"),
    ("user", "Storage Blob Data Contributor", "storage"),
    ("compute", "AzureML Data Scientist", "resource_group"),
    ("compute", "Storage Blob Data Contributor", "resource_group"),
    ("compute", "Key Vault Secrets User", "resource_group"),
    # issue 14: image pulls, and identity-based datastores on the file share.
    ("compute", "AcrPull", "container_registry"),
    ("user", "Storage File Data Privileged Contributor", "storage"),
    ("workspace", "Storage File Data Privileged Contributor", "storage"),
}

ALLOWED_IPS = ["203.0.113.0/24"]

# scenario -> (Terraform variables, Bicep parameters)
SCENARIOS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "private": ({}, {}),
    "allow-list": ({"allowed_ip_ranges": ALLOWED_IPS}, {"allowedIpRanges": ALLOWED_IPS}),
    "public": ({"private_networking_enabled": False}, {"privateNetworkingEnabled": False}),
}

PRIVATE_SECURITY = {
    "subnet.default_outbound_access": False,
    "subnet.private_endpoint_network_policies": "Enabled",
    "subnet.network_security_group": True,
    "workspace.public_network_access": False,
    "workspace.ip_allowlist": [],
    "workspace.isolation_mode": "AllowOnlyApprovedOutbound",
    "workspace.firewall_sku": "Standard",
    "workspace.system_datastores_auth_mode": "Identity",
    "workspace.provision_network_now": True,
    "workspace.api_version": "2024-10-01-preview",
    "workspace.identity": "UserAssigned",
    "storage.public_network_access": False,
    "storage.firewall_default_action": "Deny",
    "storage.ip_rules": [],
    "storage.blob_public_access": False,
    "storage.shared_key_access": False,
    "storage.local_users": False,
    "storage.min_tls": "TLS1_2",
    "storage.https_only": True,
    "storage.replication": "Standard_GRS",
    "storage.blob_delete_retention_days": 7,
    "key_vault.public_network_access": False,
    "key_vault.firewall_default_action": "Deny",
    "key_vault.rbac_authorization": True,
    "key_vault.purge_protection": True,
    "key_vault.soft_delete_retention_days": 90,
    "container_registry.admin_user": False,
    "container_registry.anonymous_pull": False,
    "container_registry.quarantine": False,
    "container_registry.public_network_access": False,
    "compute.node_public_ip": False,
    "compute.ssh_public_access": False,
    "compute.local_auth": False,
    "compute.identity": "UserAssigned",
    "compute.idle_before_scale_down": "PT15M",
}

EXPECTED_SECURITY = {
    "private": PRIVATE_SECURITY,
    # An allow-list opens the workspace and storage to those addresses only; the rest stays shut.
    "allow-list": {
        **PRIVATE_SECURITY,
        "workspace.public_network_access": True,
        "workspace.ip_allowlist": ALLOWED_IPS,
        "storage.public_network_access": True,
        "storage.ip_rules": ALLOWED_IPS,
    },
    "public": {
        **PRIVATE_SECURITY,
        "workspace.public_network_access": True,
        "storage.public_network_access": True,
        "storage.firewall_default_action": "Allow",
        "key_vault.public_network_access": True,
        "key_vault.firewall_default_action": "Allow",
        "container_registry.public_network_access": True,
    },
}

# (sub-resource, target, DNS zones) of every private endpoint of an environment.
PRIVATE_ENDPOINTS = sorted(
    [
        (
            "amlworkspace",
            "workspace",
            ("privatelink.api.azureml.ms", "privatelink.notebooks.azure.net"),
        ),
        ("blob", "storage", ("privatelink.blob.core.windows.net",)),
        ("file", "storage", ("privatelink.file.core.windows.net",)),
        ("queue", "storage", ("privatelink.queue.core.windows.net",)),
        ("table", "storage", ("privatelink.table.core.windows.net",)),
        ("vault", "key_vault", ("privatelink.vaultcore.azure.net",)),
        ("registry", "container_registry", ("privatelink.azurecr.io",)),
        # the shared Azure ML registry and its system-created storage and ACR
        ("amlregistry", "registry", ("privatelink.api.azureml.ms",)),
        ("blob", "registry_storage", ("privatelink.blob.core.windows.net",)),
        ("registry", "registry_acr", ("privatelink.azurecr.io",)),
    ]
)
OUTBOUND_RULES = {
    "pypi": ("FQDN", "pypi.org"),
    "pythonhosted": ("FQDN", "files.pythonhosted.org"),
    "conda-forge": ("FQDN", "conda.anaconda.org"),
    "registry": ("PrivateEndpoint", ("registry", "amlregistry", False)),
}
PRIVATE_DNS_ZONES = sorted(
    [
        "privatelink.api.azureml.ms",
        "privatelink.notebooks.azure.net",
        "privatelink.blob.core.windows.net",
        "privatelink.file.core.windows.net",
        "privatelink.queue.core.windows.net",
        "privatelink.table.core.windows.net",
        "privatelink.vaultcore.azure.net",
        "privatelink.azurecr.io",
    ]
)

# Azure naming rules for the resources whose limits bite (common.md, issue 8).
NAME_RULES = {
    "storage_account": re.compile(r"^[a-z0-9]{3,24}$"),
    "key_vault": re.compile(r"^[a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$"),
    "container_registry": re.compile(r"^[a-zA-Z0-9]{5,50}$"),
    "workspace": re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_-]{2,32}$"),
    "registry": re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_-]{2,32}$"),
    "online_endpoint": re.compile(r"^[a-zA-Z][a-zA-Z0-9-]{2,31}$"),
    "batch_endpoint": re.compile(r"^[a-zA-Z][a-zA-Z0-9-]{2,31}$"),
}


# names.yml variable (what the Azure DevOps pipelines address) -> naming-scheme key.
PIPELINE_NAMES = {
    "resource_group": "resource_group",
    "aml_workspace": "workspace",
    "storage_account": "storage_account",
    "key_vault": "key_vault",
    "container_registry": "container_registry",
    "app_insights": "application_insights",
    "log_analytics": "log_analytics",
    "virtual_network": "virtual_network",
    "workspace_identity": "workspace_identity",
    "compute_identity": "compute_identity",
    "compute_cluster": "compute_cluster",
    "aml_registry": "registry",
    "shared_resource_group": "registry_resource_group",
}


# ----------------------------------------------------------------------------------- helpers


def config(env: str, repo: Path = REPO) -> dict[str, Any]:
    return yaml.safe_load((repo / f"config-infra-{env}.yml").read_text())["variables"]


def scheme_names(namespace: str, postfix: str, env: str) -> dict[str, str]:
    """The naming scheme of common.md, written out independently of both stacks."""
    base = f"{namespace}-{postfix}{env}"
    return {
        "resource_group": f"rg-{base}",
        "workspace": f"mlw-{base}",
        "storage_account": f"st{namespace}{postfix}{env}",
        "key_vault": f"kv-{base}",
        "container_registry": f"cr{namespace}{postfix}{env}",
        "application_insights": f"appi-{base}",
        "log_analytics": f"log-{base}",
        "virtual_network": f"vnet-{base}",
        "workspace_identity": f"id-{base}-ws",
        "compute_identity": f"id-{base}-compute",
        "compute_cluster": "cpu-cluster",
        "online_endpoint": f"ep-{base}",
        "batch_endpoint": f"bep-{base}",
        "registry": f"mlr-{namespace}-{postfix}",
        "registry_resource_group": f"rg-{namespace}-{postfix}shared",
        "shared_log_analytics": f"log-{namespace}-{postfix}shared",
    }


@cache
def env_model(flavour: str, env: str, scenario: str, infra: Path = INFRA) -> Any:
    tf_vars, bicep_params = SCENARIOS[scenario]
    if flavour == "terraform":
        return iac.terraform_env(infra / "terraform", env, {"user_object_id": USER_ID, **tf_vars})
    return iac.bicep_env(infra / "bicep", env, {"userObjectId": USER_ID, **bicep_params})


@cache
def shared_model(flavour: str, infra: Path = INFRA) -> Any:
    if flavour == "terraform":
        return iac.terraform_shared(infra / "terraform", {})
    return iac.bicep_shared(infra / "bicep", {})


def differences(expected: dict[str, Any], **actual: dict[str, Any]) -> list[str]:
    """One line per key where a stack disagrees with the expectation."""
    problems = []
    for flavour, values in actual.items():
        for key in sorted(expected.keys() | values.keys()):
            want, got = expected.get(key, "<absent>"), values.get(key, "<absent>")
            if want != got:
                problems.append(f"{flavour}: {key} is {got!r}, expected {want!r}")
    return problems


def role_problems(tf_model: Any, bicep_model: Any) -> list[str]:
    by_guid = {guid: name for name, guid in BUILT_IN_ROLES.items()}
    named = {}
    for flavour, model in (("terraform", tf_model), ("bicep", bicep_model)):
        roles = iac.role_assignments(model, USER_ID)
        named[flavour] = sorted((p, by_guid.get(g, f"unknown role {g}"), s) for p, g, s in roles)
    problems = [
        f"{flavour}: missing role assignment {missing}"
        for flavour, roles in named.items()
        for missing in sorted(REQUIRED_ROLES - set(roles))
    ]
    problems += [
        f"terraform only: {ra}" for ra in named["terraform"] if ra not in named["bicep"]
    ] + [f"bicep only: {ra}" for ra in named["bicep"] if ra not in named["terraform"]]
    problems += [
        f"{flavour}: {ra} has no built-in role GUID"
        for flavour, roles in named.items()
        for ra in roles
        if ra[1].startswith("unknown role")
    ]
    return problems


def name_problems(model: Any, cfg: dict[str, Any]) -> list[str]:
    expected = scheme_names(cfg["namespace"], cfg["postfix"], cfg["environment"])
    problems = []
    for key, values in iac.names(model).items():
        problems += [
            f"{model.flavour}: {key} named {value!r}, config says {expected[key]!r}"
            for value in values
            if value != expected[key]
        ]
    return problems


def endpoint_problems(model: Any, expected: list[Any]) -> list[str]:
    """One line per private endpoint (sub-resource, target, zones) missing or unexpected."""
    got = iac.private_endpoint_targets(model)
    return [f"{model.flavour}: missing private endpoint {e}" for e in expected if e not in got] + [
        f"{model.flavour}: unexpected private endpoint {g}" for g in got if g not in expected
    ]


def network_problems(env: str, infra: Path = INFRA) -> list[str]:
    """The virtual network and subnet ranges of the two stacks agree, the subnet inside the vnet."""
    tf = iac.network(env_model("terraform", env, "private", infra))
    bicep = iac.network(env_model("bicep", env, "private", infra))
    problems = differences(tf, bicep=bicep)
    for flavour, net in (("terraform", tf), ("bicep", bicep)):
        vnet = ipaddress.ip_network(net["vnet.address_space"][0])
        subnet = ipaddress.ip_network(net["subnet.address_prefixes"][0])
        if not subnet.subnet_of(vnet):
            problems.append(f"{flavour}: subnet {subnet} is outside {vnet}")
    return problems


def config_problems(env: str, infra: Path = INFRA, repo: Path = REPO) -> list[str]:
    """Per-environment values of both stacks equal config-infra-<env>.yml."""
    cfg = config(env, repo)
    want = {
        "namespace": cfg["namespace"],
        "postfix": cfg["postfix"],
        "environment": cfg["environment"],
        "location": cfg["location"],
    }
    compute = {
        "compute_vm_size": cfg["compute_vm_size"],
        "compute_min_instances": cfg["compute_min_instances"],
        "compute_max_instances": cfg["compute_max_instances"],
    }
    sources = {
        f"aml-vnet/env/{env}.tfvars": (
            iac.load_tfvars(infra / "terraform" / "aml-vnet" / "env" / f"{env}.tfvars"),
            want,
        ),
        f"aml-managed-smi/env/{env}.tfvars": (
            iac.load_tfvars(infra / "terraform" / "aml-managed-smi" / "env" / f"{env}.tfvars"),
            {**want, **compute},
        ),
    }
    bicep = iac.load_bicep_parameters(infra / "bicep" / "env" / f"{env}.parameters.json")
    bicep_keys = {
        "environment": "environmentName",
        "compute_vm_size": "computeVmSize",
        "compute_min_instances": "computeMinInstances",
        "compute_max_instances": "computeMaxInstances",
    }
    bicep_as_tf = {key: bicep.get(bicep_keys.get(key, key)) for key in {**want, **compute}}
    sources[f"bicep/env/{env}.parameters.json"] = (bicep_as_tf, {**want, **compute})
    return [
        f"{source}: {key} = {values.get(key)!r}, config-infra-{env}.yml says {value!r}"
        for source, (values, expected) in sources.items()
        for key, value in expected.items()
        if values.get(key) != value
    ]


# ------------------------------------------------------------------------------------- tests


def test_same_resource_kinds() -> None:
    declared = iac.terraform_declared_types(INFRA / "terraform")
    azapi = {
        arm for tf_type, arms in declared.items() if tf_type.startswith("azapi") for arm in arms
    }
    unmapped = sorted(t for t in declared if not t.startswith("azapi") and t not in iac.TF_TO_ARM)
    assert not unmapped, f"Terraform resource types without an ARM kind in TF_TO_ARM: {unmapped}"
    terraform = {arm for t in declared if t in iac.TF_TO_ARM for arm in iac.TF_TO_ARM[t]} | azapi
    bicep = iac.bicep_declared_kinds(INFRA / "bicep")
    assert sorted(terraform - bicep) == [], "declared in Terraform only"
    assert sorted(bicep - terraform) == [], "declared in Bicep only"
    assert "Microsoft.MachineLearningServices/registries" in bicep


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_same_role_assignments(env: str) -> None:
    problems = role_problems(
        env_model("terraform", env, "private"), env_model("bicep", env, "private")
    )
    assert problems == []


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_same_security_settings(scenario: str) -> None:
    tf = iac.security(env_model("terraform", "dev", scenario))
    bicep = iac.security(env_model("bicep", "dev", scenario))
    expected = {**EXPECTED_SECURITY[scenario]}
    cfg = config("dev")
    expected.update(
        {
            "compute.vm_size": cfg["compute_vm_size"],
            "compute.min_nodes": cfg["compute_min_instances"],
            "compute.max_nodes": cfg["compute_max_instances"],
        }
    )
    assert differences(expected, terraform=tf, bicep=bicep) == []


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_same_private_endpoints_and_dns_zones(scenario: str) -> None:
    endpoints = [] if scenario == "public" else PRIVATE_ENDPOINTS
    for flavour in ("terraform", "bicep"):
        model = env_model(flavour, "dev", scenario)
        assert endpoint_problems(model, endpoints) == [], flavour
        assert iac.private_dns_zones(model) == PRIVATE_DNS_ZONES, flavour
        assert iac.outbound_rules(model) == OUTBOUND_RULES, flavour


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_same_network_ranges(env: str) -> None:
    assert network_problems(env) == []


def test_network_ranges_do_not_overlap() -> None:
    """Each environment has its own range, so the networks can be peered with a hub."""
    ranges = {
        env: ipaddress.ip_network(
            iac.network(env_model("terraform", env, "private"))["vnet.address_space"][0]
        )
        for env in ENVIRONMENTS
    }
    for env, net in ranges.items():
        others = [o for o, other in ranges.items() if o != env and net.overlaps(other)]
        assert others == [], f"{env} {net} overlaps {others}"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_names_follow_config(env: str) -> None:
    cfg = config(env)
    assert config_problems(env) == []
    for flavour in ("terraform", "bicep"):
        model = env_model(flavour, env, "private")
        assert name_problems(model, cfg) == []
        covered = set(iac.names(model))
        # Every resource named by the scheme is checked (endpoints are the pipelines' job).
        assert covered == set(scheme_names("n", "0", env)) - {
            "online_endpoint",
            "batch_endpoint",
            "registry",
            "registry_resource_group",
            "shared_log_analytics",
        }, flavour


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_pipelines_address_the_resources_the_stacks_create(env: str) -> None:
    from mlops.azure.names import render

    pipeline = render(env).names
    for flavour in ("terraform", "bicep"):
        created = {
            **iac.names(env_model(flavour, env, "private")),
            **iac.names(shared_model(flavour)),
        }
        mismatched = {
            variable: (pipeline[variable], created.get(key))
            for variable, key in PIPELINE_NAMES.items()
            if [pipeline[variable]] != sorted(set(created.get(key, [])))
        }
        assert mismatched == {}, f"{flavour}: names.yml variable -> (pipeline, stack) names differ"


def test_terraform_state_keys_are_per_stack_and_environment() -> None:
    keys, accounts = {}, {}
    for backend in sorted((INFRA / "terraform").glob("*/env/*.azurerm.tfbackend")):
        stack, env = backend.parent.parent.name, backend.name.split(".")[0]
        settings = iac.load_tfvars(backend)
        keys[f"{stack}/{env}"] = settings["key"]
        accounts[f"{stack}/{env}"] = settings["storage_account_name"]
    assert keys == {name: f"{name}.tfstate" for name in keys}
    # One state account per environment (issue 14): only that environment's identity writes it.
    cfg = config("dev")
    assert accounts == {
        name: f"st{cfg['namespace']}{cfg['postfix']}tf{name.split('/')[1]}" for name in accounts
    }
    assert all(NAME_RULES["storage_account"].match(a) for a in accounts.values()), accounts
    assert sorted(keys) == sorted(
        [f"{stack}/{env}" for stack in ("aml-vnet", "aml-managed-smi") for env in ENVIRONMENTS]
        + ["aml-registry-smi/shared"]
    )


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_names_within_azure_limits(env: str) -> None:
    cfg = config(env)
    names = scheme_names(cfg["namespace"], cfg["postfix"], cfg["environment"])
    for key, rule in NAME_RULES.items():
        assert rule.match(names[key]), f"{key} name {names[key]!r} breaks Azure's naming rule"


def test_shared_registry_stacks_agree() -> None:
    cfg = config("dev")
    tf, bicep = shared_model("terraform"), shared_model("bicep")
    expected = {
        "registry.public_network_access": False,
        "registry.storage_blob_public_access": False,
        "registry.acr_sku": "Premium",
    }
    assert (
        differences(
            expected, terraform=iac.registry_security(tf), bicep=iac.registry_security(bicep)
        )
        == []
    )
    # The registry stack writes nothing into an environment: each environment stack owns its
    # endpoints to the registry (PRIVATE_ENDPOINTS) and its managed network rule.
    assert iac.private_endpoints(tf) == iac.private_endpoints(bicep) == []
    for model in (tf, bicep):
        assert name_problems(model, cfg) == []
        assert set(iac.names(model)) == {
            "registry",
            "registry_resource_group",
            "shared_log_analytics",
        }


# ------------------------------------------------------------------------- negative cases


@pytest.fixture(scope="module")
def infra_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A pristine copy of infrastructure/ + config; each negative test mutates its own copy."""
    base = tmp_path_factory.mktemp("pristine")
    shutil.copytree(INFRA, base / "infrastructure", ignore=shutil.ignore_patterns("pipelines"))
    for env in ENVIRONMENTS:
        shutil.copy(REPO / f"config-infra-{env}.yml", base)
    return base


def mutated(base: Path, tmp_path: Path, relative: str, old: str, new: str) -> Path:
    """Copy ``base`` to ``tmp_path`` and replace ``old`` by ``new`` in one file."""
    target = tmp_path / "repo"
    shutil.copytree(base, target)
    path = target / relative
    text = path.read_text()
    assert text.count(old) == 1, f"mutation anchor {old!r} not found once in {relative}"
    path.write_text(text.replace(old, new))
    return target


def test_detects_bicep_registry_admin_user(infra_copy: Path, tmp_path: Path) -> None:
    repo = mutated(
        infra_copy,
        tmp_path,
        "infrastructure/bicep/modules/workspace.bicep",
        "adminUserEnabled: false",
        "adminUserEnabled: true",
    )
    bicep = iac.security(env_model("bicep", "dev", "private", repo / "infrastructure"))
    tf = iac.security(env_model("terraform", "dev", "private"))
    problems = differences({**tf}, terraform=tf, bicep=bicep)
    assert problems == ["bicep: container_registry.admin_user is True, expected False"]


def test_detects_terraform_isolation_mode(infra_copy: Path, tmp_path: Path) -> None:
    repo = mutated(
        infra_copy,
        tmp_path,
        "infrastructure/terraform/aml-managed-smi/main.tf",
        'isolationMode = "AllowOnlyApprovedOutbound"',
        'isolationMode = "AllowInternetOutbound"',
    )
    tf = iac.security(env_model("terraform", "dev", "private", repo / "infrastructure"))
    assert differences(
        {"workspace.isolation_mode": "AllowOnlyApprovedOutbound"},
        terraform={"workspace.isolation_mode": tf["workspace.isolation_mode"]},
    ) == [
        "terraform: workspace.isolation_mode is 'AllowInternetOutbound', "
        "expected 'AllowOnlyApprovedOutbound'"
    ]


def test_detects_missing_terraform_role_assignment(infra_copy: Path, tmp_path: Path) -> None:
    repo = mutated(
        infra_copy,
        tmp_path,
        "infrastructure/terraform/aml-managed-smi/main.tf",
        '    compute-secrets-user     = { principal = "compute", role = "Key Vault Secrets User",'
        ' scope = "resource_group" }\n',
        "",
    )
    problems = role_problems(
        env_model("terraform", "dev", "private", repo / "infrastructure"),
        env_model("bicep", "dev", "private"),
    )
    missing = ("compute", "Key Vault Secrets User", "resource_group")
    assert problems == [f"terraform: missing role assignment {missing}", f"bicep only: {missing}"]


def test_detects_bicep_role_on_wrong_scope(infra_copy: Path, tmp_path: Path) -> None:
    repo = mutated(
        infra_copy,
        tmp_path,
        "infrastructure/bicep/modules/role-assignments.bicep",
        "ra => ra.scope == 'storage'",
        "ra => ra.scope == 'nowhere'",
    )
    problems = role_problems(
        env_model("terraform", "dev", "private"),
        env_model("bicep", "dev", "private", repo / "infrastructure"),
    )
    assert (
        "bicep: missing role assignment ('user', 'Storage Blob Data Contributor', 'storage')"
        in (problems)
    )
    assert (
        "terraform only: ('user', 'Storage File Data Privileged Contributor', 'storage')"
        in problems
    )


def test_detects_bicep_name_off_scheme(infra_copy: Path, tmp_path: Path) -> None:
    repo = mutated(
        infra_copy,
        tmp_path,
        "infrastructure/bicep/main.bicep",
        "storageAccount: 'st${namespace}${postfix}${environmentName}'",
        "storageAccount: 'sa${namespace}${postfix}${environmentName}'",
    )
    model = env_model("bicep", "dev", "private", repo / "infrastructure")
    assert name_problems(model, config("dev")) == [
        "bicep: storage_account named 'sataxifare0001dev', config says 'sttaxifare0001dev'"
    ]


def test_detects_tfvars_drifting_from_config(infra_copy: Path, tmp_path: Path) -> None:
    repo = mutated(
        infra_copy,
        tmp_path,
        "infrastructure/terraform/aml-managed-smi/env/prod.tfvars",
        "compute_max_instances = 4",
        "compute_max_instances = 8",
    )
    assert config_problems("prod", repo / "infrastructure", repo) == [
        "aml-managed-smi/env/prod.tfvars: compute_max_instances = 8, config-infra-prod.yml says 4"
    ]


def test_name_rules_reject_names_over_azure_limits() -> None:
    assert not NAME_RULES["storage_account"].match(
        scheme_names("taxifare", "0001", "stage-eu")["storage_account"]
    )
    assert not NAME_RULES["key_vault"].match(
        scheme_names("taxifarewesteu", "0001", "stage")["key_vault"]
    )
    assert not NAME_RULES["online_endpoint"].match("ep-" + "x" * 30)


# Issue 14: what the parity check must see. Each mutation changes one stack only.


def test_detects_vnet_cidr_drift_in_one_stack(infra_copy: Path, tmp_path: Path) -> None:
    repo = mutated(
        infra_copy,
        tmp_path,
        "infrastructure/bicep/env/stage.parameters.json",
        '"vnetAddressSpace": { "value": "10.20.0.0/16" }',
        '"vnetAddressSpace": { "value": "10.21.0.0/16" }',
    )
    assert network_problems("stage", repo / "infrastructure") == [
        "bicep: vnet.address_space is ['10.21.0.0/16'], expected ['10.20.0.0/16']",
        "bicep: subnet 10.20.1.0/24 is outside 10.21.0.0/16",
    ]


def test_detects_private_endpoint_in_wrong_dns_zone(infra_copy: Path, tmp_path: Path) -> None:
    repo = mutated(
        infra_copy,
        tmp_path,
        "infrastructure/terraform/aml-managed-smi/main.tf",
        'file         = ["privatelink.file.core.windows.net"]',
        'file         = ["privatelink.blob.core.windows.net"]',
    )
    model = env_model("terraform", "dev", "private", repo / "infrastructure")
    assert endpoint_problems(model, PRIVATE_ENDPOINTS) == [
        "terraform: missing private endpoint "
        "('file', 'storage', ('privatelink.file.core.windows.net',))",
        "terraform: unexpected private endpoint "
        "('file', 'storage', ('privatelink.blob.core.windows.net',))",
    ]


def test_detects_bicep_endpoint_zone_swap(infra_copy: Path, tmp_path: Path) -> None:
    repo = mutated(
        infra_copy,
        tmp_path,
        "infrastructure/bicep/modules/workspace.bicep",
        """    zones: [
      'privatelink.vaultcore.azure.net'
    ]""",
        """    zones: [
      'privatelink.azurecr.io'
    ]""",
    )
    model = env_model("bicep", "dev", "private", repo / "infrastructure")
    assert endpoint_problems(model, PRIVATE_ENDPOINTS) == [
        "bicep: missing private endpoint "
        "('vault', 'key_vault', ('privatelink.vaultcore.azure.net',))",
        "bicep: unexpected private endpoint ('vault', 'key_vault', ('privatelink.azurecr.io',))",
    ]


def test_detects_storage_replication_change(infra_copy: Path, tmp_path: Path) -> None:
    repo = mutated(
        infra_copy,
        tmp_path,
        "infrastructure/bicep/modules/workspace.bicep",
        "name: 'Standard_GRS'",
        "name: 'Standard_LRS'",
    )
    bicep = iac.security(env_model("bicep", "dev", "private", repo / "infrastructure"))
    tf = iac.security(env_model("terraform", "dev", "private"))
    assert differences(tf, bicep=bicep) == [
        "bicep: storage.replication is 'Standard_LRS', expected 'Standard_GRS'"
    ]


def test_detects_key_vault_retention_change(infra_copy: Path, tmp_path: Path) -> None:
    repo = mutated(
        infra_copy,
        tmp_path,
        "infrastructure/terraform/aml-managed-smi/main.tf",
        "soft_delete_retention_days    = 90",
        "soft_delete_retention_days    = 7",
    )
    tf = iac.security(env_model("terraform", "dev", "private", repo / "infrastructure"))
    pristine = iac.security(env_model("terraform", "dev", "private"))
    assert differences(pristine, terraform=tf) == [
        "terraform: key_vault.soft_delete_retention_days is 7, expected 90"
    ]


def test_detects_registry_outbound_rule_dropped(infra_copy: Path, tmp_path: Path) -> None:
    repo = mutated(
        infra_copy,
        tmp_path,
        "infrastructure/bicep/modules/workspace.bicep",
        "subresourceTarget: 'amlregistry'",
        "subresourceTarget: 'registry'",
    )
    rules = iac.outbound_rules(env_model("bicep", "dev", "private", repo / "infrastructure"))
    assert rules["registry"] == ("PrivateEndpoint", ("registry", "registry", False))
    assert rules != OUTBOUND_RULES


def naming_limit_failures(namespace: str, postfix: str, env: str) -> list[str]:
    """Error messages of the naming module's output preconditions that fail for these inputs."""
    naming = iac.TfEvaluator(
        INFRA / "terraform" / "modules" / "naming",
        {"namespace": namespace, "postfix": postfix, "environment": env},
    )
    assert "check" not in naming.blocks, "a check block only warns: use preconditions"
    failures = []
    for block in naming.blocks["output"]:
        for conf in block.values():
            for condition in conf.get("precondition", []):
                verdict = naming.value(condition["condition"])
                assert isinstance(verdict, bool), condition["condition"]
                if not verdict:
                    failures.append(naming.value(condition["error_message"]))
    return failures


def test_naming_preconditions_stop_the_plan_on_names_over_the_limits() -> None:
    # The variable validations keep real inputs inside the limits; the preconditions are the
    # guard behind them (a changed scheme), and they are errors, unlike a check block.
    for env in ENVIRONMENTS:
        cfg = config(env)
        assert naming_limit_failures(cfg["namespace"], cfg["postfix"], env) == []
    assert naming_limit_failures("taxifarewesteuropex", "0001", "stage") == [
        "storage account name sttaxifarewesteuropex0001stage must be 3-24 characters.",
        "key vault name kv-taxifarewesteuropex-0001stage must be 3-24 characters.",
        "endpoint names must be at most 32 characters.",
    ]
