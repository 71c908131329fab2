"""Issue 12 #2, #6, #8 and the lesser items, as the pipelines wire them: pull requests check
before the merge with the read-only connection; one approval per release; one rollout per
endpoint at a time; deployments run the release's pins."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from mlops.settings import REPO_ROOT

PIPELINES = REPO_ROOT / "mlops" / "devops-pipelines"
TEMPLATES = PIPELINES / "templates"


def _load(name: str) -> Any:
    return yaml.safe_load((PIPELINES / name).read_text(encoding="utf-8"))


def _nodes(node: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        found.append(node)
        for value in node.values():
            found += _nodes(value)
    elif isinstance(node, list):
        for item in node:
            found += _nodes(item)
    return found


def _uses(name: str, template: str) -> list[dict[str, Any]]:
    return [n.get("parameters") or {} for n in _nodes(_load(name)) if n.get("template") == template]


def _environments(name: str) -> set[str]:
    return {n["environment"] for n in _nodes(_load(name)) if "deployment" in n}


# --- pull requests (#2, #6) ------------------------------------------------------------


def test_pull_requests_use_only_the_read_only_connection() -> None:
    text = (PIPELINES / "pr-validation.yml").read_text(encoding="utf-8")
    assert "variables.service_connection" not in text
    connections = {
        p["serviceConnection"] for p in _uses("pr-validation.yml", "templates/release-check.yml")
    }
    assert connections == {"${{ variables.readonly_service_connection }}"}
    for env in ("dev", "stage", "prod"):
        config = yaml.safe_load((REPO_ROOT / f"config-infra-{env}.yml").read_text())["variables"]
        assert config["readonly_service_connection"] == "sc-taxifare-readonly"
        assert config["service_connection"] == f"sc-taxifare-{env}"
        assert config["infra_service_connection"] == f"sc-taxifare-infra-{env}"


def test_pull_request_checks_run_before_merge_stage_against_the_dev_workspace() -> None:
    checks = {
        p["environment"]: p for p in _uses("pr-validation.yml", "templates/release-check.yml")
    }
    assert checks["stage"]["beforeMerge"] is True and checks["prod"]["beforeMerge"] is True
    assert (checks["stage"]["devResourceGroup"], checks["stage"]["devWorkspace"]) == (
        "$(dev_resource_group)",
        "$(dev_workspace)",
    )
    script = yaml.safe_load((TEMPLATES / "release-check.yml").read_text())["steps"][0]
    text = script["inputs"]["inlineScript"]
    assert "--before-merge --dev-subscription-id" in text


def test_post_merge_checks_do_not_use_the_before_merge_mode() -> None:
    for name in PIPELINES.glob("*.yml"):
        if name.name == "pr-validation.yml":
            continue
        for params in _uses(name.name, "templates/release-check.yml"):
            assert not params.get("beforeMerge"), name.name


# --- one approval per release, one rollout per endpoint --------------------------------

APPROVAL = {"stage": "stage-register-in-staging.yml", "prod": "prod-register-in-production.yml"}


@pytest.mark.parametrize("env", ["stage", "prod"])
def test_the_approval_environment_is_used_once_per_release(env: str) -> None:
    users = sorted(p.name for p in PIPELINES.glob(f"{env}-*.yml") if env in _environments(p.name))
    assert users == [APPROVAL[env]]


@pytest.mark.parametrize(
    ("name", "environment"),
    [
        ("stage-online-endpoint.yml", "stage-online"),
        ("stage-model-testing.yml", "stage-online"),  # tests hold the rollout's lock
        ("stage-batch-endpoint.yml", "stage-batch"),
        ("prod-online-endpoint.yml", "prod-online"),
        ("prod-batch-endpoint.yml", "prod-batch"),
    ],
)
def test_endpoint_pipelines_lock_their_endpoint_and_queue_in_order(
    name: str, environment: str
) -> None:
    assert _environments(name) == {environment}
    assert _load(name)["lockBehavior"] == "sequential"


def test_dev_training_runs_one_at_a_time() -> None:
    assert _load("dev-model-training.yml")["lockBehavior"] == "sequential"


# --- deployments run the pins (#8) -----------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "stage-online-endpoint.yml",
        "stage-batch-endpoint.yml",
        "prod-online-endpoint.yml",
        "prod-batch-endpoint.yml",
    ],
)
def test_deploying_pipelines_check_out_full_history(name: str) -> None:
    (prepare,) = _uses(name, "templates/prepare-agent.yml")
    assert prepare["fetchDepth"] == 0


def test_batch_deployment_takes_model_environment_and_code_from_the_pins() -> None:
    text = (TEMPLATES / "create-deployment.yml").read_text(encoding="utf-8")
    assert 'python -m mlops azure release-code --commit "$CODE_COMMIT"' in text
    for setting in (
        '"model=$MODEL_URI"',
        '"environment=$ENVIRONMENT_URI"',
        '"code_configuration.code=$CODE_DEST/data-science/src"',
    ):
        assert setting in text


def test_stage_registers_the_pinned_environment_in_the_registry_once() -> None:
    (env,) = _uses("stage-register-in-staging.yml", "templates/register-environment.yml")
    assert env == {
        "serviceConnection": "${{ variables.service_connection }}",
        "specFile": "",  # the spec of the environment the release pins (by the trainer)
        "release": "stage",
    }
    assert _uses("prod-register-in-production.yml", "templates/register-environment.yml") == []


def test_the_dev_workspace_subscription_is_a_parameter() -> None:
    (share,) = _uses("stage-register-in-staging.yml", "templates/share-model.yml")
    assert share["sourceSubscriptionId"] == "$(dev_subscription_id)"
    text = (TEMPLATES / "share-model.yml").read_text(encoding="utf-8")
    assert "${SOURCE_SUBSCRIPTION_ID:-" in text


def test_release_files_in_the_repository_carry_pin_keys() -> None:
    for env in ("stage", "prod"):
        data = yaml.safe_load((REPO_ROOT / "mlops" / "releases" / f"{env}.yml").read_text())
        assert set(data["environment"]) == {"name", "version"}
        assert set(data["code"]) == {"commit"}
