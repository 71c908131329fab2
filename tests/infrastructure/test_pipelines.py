"""The infrastructure pipelines apply only what was approved, with the right identities (issue 14).

Items 4 and 7: plans run with the read-only connection, before any approval; only deployment
jobs bound to an Azure DevOps environment (where approvals live) use an environment's infra
connection, and they apply the published plan; the Terraform step lets the providers refresh
the Azure DevOps OIDC token instead of passing the task's 10-minute idToken; the registry comes
first and every environment's network before its workspace.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
STAGE_TEMPLATES = ("terraform-stages.yml", "bicep-stages.yml")
STEP_TEMPLATES = {
    "/mlops/devops-pipelines/templates/terraform-stack.yml",
    "/mlops/devops-pipelines/templates/bicep-deploy.yml",
}
READ_ONLY = "${{ variables.readonly_service_connection }}"
INFRA = "${{ variables.infra_service_connection }}"


def _steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    if "steps" in job:
        return job["steps"]
    return job.get("strategy", {}).get("runOnce", {}).get("deploy", {}).get("steps", [])


def stage_template_problems(root: Path = REPO) -> list[str]:
    """One line per job whose identity or shape breaks the plan/approve/apply rule."""
    problems = []
    for name in STAGE_TEMPLATES:
        rel = f"infrastructure/pipelines/templates/{name}"
        doc = yaml.safe_load((root / rel).read_text())
        for stage in doc["stages"]:
            for job in stage["jobs"]:
                kind = "deployment" if "deployment" in job else "job"
                where = f"{rel}: {stage['stage']}/{job.get(kind)}"
                for step in _steps(job):
                    if step.get("template") not in STEP_TEMPLATES:
                        continue
                    params = step.get("parameters", {})
                    connection, mode = params.get("serviceConnection"), params.get("mode")
                    if kind == "job" and (connection != READ_ONLY or mode != "plan"):
                        problems.append(
                            f"{where}: a job before approval runs mode {mode!r} with {connection}"
                        )
                    if kind == "deployment" and (connection != INFRA or mode != "apply"):
                        problems.append(f"{where}: deployment runs mode {mode!r} with {connection}")
                if kind == "deployment" and not job.get("environment"):
                    problems.append(f"{where}: deployment job without an environment")
    return problems


def stage_order(pipeline: str, root: Path = REPO) -> list[tuple[str, list[str]]]:
    """(stage name suffix, dependsOn) of each stage-template use, in file order."""
    doc = yaml.safe_load((root / "infrastructure" / "pipelines" / pipeline).read_text())
    return [(s["parameters"]["name"], s["parameters"].get("dependsOn", [])) for s in doc["stages"]]


def test_plans_read_only_and_applies_behind_approvals() -> None:
    assert stage_template_problems() == []


@pytest.mark.parametrize(
    ("pipeline", "expected"),
    [
        (
            "tf-ado-deploy-infra.yml",
            [
                ("registry", []),
                ("dev_network", ["apply_registry"]),
                ("dev_workspace", ["apply_dev_network"]),
                ("stage_network", ["apply_dev_workspace"]),
                ("stage_workspace", ["apply_stage_network"]),
                ("prod_network", ["apply_stage_workspace"]),
                ("prod_workspace", ["apply_prod_network"]),
            ],
        ),
        (
            "bicep-ado-deploy-infra.yml",
            [
                ("registry", []),
                ("dev", ["deploy_registry"]),
                ("stage", ["deploy_dev"]),
                ("prod", ["deploy_stage"]),
            ],
        ),
    ],
)
def test_registry_first_then_each_environment(
    pipeline: str, expected: list[tuple[str, list[str]]]
) -> None:
    assert stage_order(pipeline) == expected


def _tasks(node: Any, name: str) -> list[dict[str, Any]]:
    """Every step running task ``name``, inside ${{ if }} insertions too."""
    found = []
    if isinstance(node, dict):
        if node.get("task") == name:
            found.append(node)
        for value in node.values():
            found += _tasks(value, name)
    elif isinstance(node, list):
        for item in node:
            found += _tasks(item, name)
    return found


def test_terraform_step_uses_the_refreshing_service_connection_auth() -> None:
    doc = yaml.safe_load(
        (REPO / "mlops/devops-pipelines/templates/terraform-stack.yml").read_text()
    )
    plan, apply = _tasks(doc["steps"], "AzureCLI@2")
    for cli in (plan, apply):
        script, env = cli["inputs"]["inlineScript"], cli["env"]
        assert "ARM_OIDC_TOKEN" not in script and "ARM_OIDC_TOKEN" not in env
        assert "idToken" not in script
        assert (
            'ARM_ADO_PIPELINE_SERVICE_CONNECTION_ID="${AZURESUBSCRIPTION_SERVICE_CONNECTION_ID:?}"'
            in script
        )
        assert env["ARM_OIDC_REQUEST_TOKEN"] == "$(System.AccessToken)"
        assert env["ARM_OIDC_REQUEST_URL"] == "$(System.OidcRequestUri)"
        assert env["ARM_USE_OIDC"] == "true"
    # The plan does not lock the state; the apply applies the downloaded plan, never a new one.
    assert "-lock=false" in plan["inputs"]["inlineScript"]
    assert "terraform plan" not in apply["inputs"]["inlineScript"]
    assert 'terraform apply -input=false "$PLAN_DIR/tfplan"' in apply["inputs"]["inlineScript"]


def test_detects_a_plan_job_with_the_infra_connection(tmp_path: Path) -> None:
    shutil.copytree(
        REPO / "infrastructure/pipelines/templates", tmp_path / "infrastructure/pipelines/templates"
    )
    path = tmp_path / "infrastructure/pipelines/templates/terraform-stages.yml"
    text = path.read_text()
    assert text.count(READ_ONLY) == 1
    path.write_text(text.replace(READ_ONLY, INFRA))
    assert stage_template_problems(tmp_path) == [
        "infrastructure/pipelines/templates/terraform-stages.yml: "
        "plan_${{ parameters.name }}/plan: a job before approval runs mode 'plan' with " + INFRA
    ]


def test_detects_an_apply_outside_a_deployment_job(tmp_path: Path) -> None:
    shutil.copytree(
        REPO / "infrastructure/pipelines/templates", tmp_path / "infrastructure/pipelines/templates"
    )
    path = tmp_path / "infrastructure/pipelines/templates/bicep-stages.yml"
    text = path.read_text()
    old = "              mode: plan\n"
    assert text.count(old) == 1
    path.write_text(text.replace(old, "              mode: apply\n"))
    assert stage_template_problems(tmp_path) == [
        "infrastructure/pipelines/templates/bicep-stages.yml: "
        "plan_${{ parameters.name }}/what_if: a job before approval runs mode 'apply' with "
        + READ_ONLY
    ]
