"""The Azure side of promotion against a fake MLClient: share, prod check, stage tags."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest
from azure.core.exceptions import ResourceNotFoundError

from mlops.errors import MlopsError
from mlops.promotion import azure_release
from mlops.registry.releases import ModelRelease, Release, RolloutSettings


@dataclass
class FakeModels:
    """``MLClient.models`` over a dict; records share and create_or_update calls."""

    held: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)
    shared: list[dict[str, Any]] = field(default_factory=list)
    updated: list[Any] = field(default_factory=list)
    # Where ``share`` lands (a registry fake) and whether it copies the tags: the SDK shares
    # by asset reference (azure-ai-ml 1.35.2 azure/ai/ml/operations/_model_operations.py,
    # ModelOperations.share); whether tags travel is not stated, so both are tested.
    target: FakeModels | None = None
    copy_tags: bool = True

    def get(self, name: str, version: str) -> SimpleNamespace:
        if (name, version) not in self.held:
            raise ResourceNotFoundError(f"model {name}:{version} not found")
        return SimpleNamespace(name=name, version=version, tags=dict(self.held[(name, version)]))

    def share(self, **kwargs: Any) -> None:
        self.shared.append(kwargs)
        if self.target is not None:
            tags = self.held[(kwargs["name"], kwargs["version"])] if self.copy_tags else {}
            key = (kwargs["share_with_name"], kwargs["share_with_version"])
            self.target.held[key] = dict(tags)

    def create_or_update(self, model: SimpleNamespace) -> SimpleNamespace:
        self.updated.append(model)
        self.held[(model.name, model.version)] = dict(model.tags)
        return model


def _client(**held: dict[str, str]) -> SimpleNamespace:
    return SimpleNamespace(models=FakeModels({("taxi-fare", v): t for v, t in held.items()}))


def _release(env: str, version: int | None) -> Release:
    model = ModelRelease("taxi-fare", version, "mlr-taxifare-0001")
    return Release(env, model, RolloutSettings((100,), 500))


def test_prod_check_passes_only_a_stage_passed_version() -> None:
    registry = azure_release.AzureRegistry(_client(**{"4": {"stage_passed": "true", "a": "b"}}))
    tags = azure_release.check_release(_release("prod", 4), registry, "reg")
    assert tags == {"stage_passed": "true", "a": "b"}
    assert _release("prod", 4).model.azureml_uri() == (
        "azureml://registries/mlr-taxifare-0001/models/taxi-fare/versions/4"
    )


@pytest.mark.parametrize(
    ("env", "version", "held", "message"),
    [
        ("prod", 4, {"4": {"stage_passed": "false"}}, "(tag stage_passed=false); refusing"),
        ("prod", 4, {"4": {}}, "has not passed stage in reg (tag stage_passed=missing)"),
        ("prod", 5, {"4": {"stage_passed": "true"}}, "names version 5 of taxi-fare, which reg"),
        ("stage", 5, {}, "the stage release names version 5 of taxi-fare, which reg does not"),
        ("prod", None, {}, "the prod release names no model version (version: null)"),
    ],
)
def test_release_check_refusals(
    env: str, version: int | None, held: dict[str, dict[str, str]], message: str
) -> None:
    client = _client(**held)
    with pytest.raises(MlopsError) as info:
        registry = azure_release.AzureRegistry(client)
        azure_release.check_release(_release(env, version), registry, "reg")
    assert message in str(info.value)
    assert client.models.updated == []


def test_stage_release_needs_no_stage_pass() -> None:
    registry = azure_release.AzureRegistry(_client(**{"4": {}}))
    assert azure_release.check_release(_release("stage", 4), registry, "reg") == {}


@pytest.mark.parametrize("copy_tags", [True, False])
def test_share_uses_same_name_and_version_and_is_idempotent(copy_tags: bool) -> None:
    workspace = _client(**{"7": {"trainer": "rf", "model_uuid": "u7"}})
    registry_client = _client()
    workspace.models.target, workspace.models.copy_tags = registry_client.models, copy_tags
    registry = azure_release.AzureRegistry(registry_client)
    assert azure_release.share(workspace, registry, "taxi-fare", 7, "mlr-taxifare-0001") is True
    assert workspace.models.shared == [
        {"name": "taxi-fare", "version": "7", "share_with_name": "taxi-fare",
         "share_with_version": "7", "registry_name": "mlr-taxifare-0001"},
    ]  # fmt: skip
    # The identity tags are on the registry copy either way.
    held = registry_client.models.held[("taxi-fare", "7")]
    assert (held["trainer"], held["model_uuid"]) == ("rf", "u7")
    assert azure_release.share(workspace, registry, "taxi-fare", 7, "mlr-taxifare-0001") is False
    assert len(workspace.models.shared) == 1


def test_share_of_a_version_missing_in_the_workspace_shares_nothing() -> None:
    workspace = _client(**{"7": {}})
    with pytest.raises(MlopsError, match="version 8 of taxi-fare does not exist in the dev"):
        azure_release.share(
            workspace, azure_release.AzureRegistry(_client()), "taxi-fare", 8, "mlr"
        )
    assert workspace.models.shared == []


RESULT = {
    "version": 4,
    "rows": 120,
    "passed": True,
    "reason": "all metrics within tolerance of dev",
    "metrics": {"root_mean_squared_error": 2.5, "r2_score": 0.9},
    "tested_at": "2026-11-23T10:00:00+00:00",
}


def test_stage_result_becomes_registry_tags_merged_with_lineage() -> None:
    client = _client(**{"4": {"git_commit": "abc"}})
    registry = azure_release.AzureRegistry(client)
    tags = azure_release.record_stage_result(registry, "taxi-fare", RESULT, "reg")
    assert tags["stage_passed"] == "true" and tags["stage_rows"] == "120"
    assert client.models.held[("taxi-fare", "4")] == {
        "git_commit": "abc",
        "stage_passed": "true",
        "stage_tested_at": "2026-11-23T10:00:00+00:00",
        "stage_rows": "120",
        "stage_reason": "all metrics within tolerance of dev",
        "stage_root_mean_squared_error": "2.5",
        "stage_r2_score": "0.9",
    }
    azure_release.check_release(_release("prod", 4), registry, "reg")  # now releasable


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"version": None}, "stage result is missing or has a bad field"),
        ({"passed": "yes"}, "field 'passed' must be true or false, got 'yes'"),
        ({"metrics": {"r2_score": "high"}}, "stage result is missing or has a bad field"),
        ({"version": 5}, "version 5 of taxi-fare is not in reg; nothing recorded"),
    ],
)
def test_bad_stage_result_records_nothing(change: dict[str, Any], message: str) -> None:
    client = _client(**{"4": {}})
    with pytest.raises(MlopsError) as info:
        azure_release.record_stage_result(
            azure_release.AzureRegistry(client), "taxi-fare", {**RESULT, **change}, "reg"
        )
    assert message in str(info.value)
    assert client.models.updated == []
