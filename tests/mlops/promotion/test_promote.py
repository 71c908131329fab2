"""Local promotion with a fake deployer: what changes on success, and nothing on bad input."""

from __future__ import annotations

import contextlib
import json
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest

from mlops import settings
from mlops.errors import MlopsError
from mlops.promotion import inventory, promote
from mlops.registry import history, local_registry, releases
from tests.mlops.promotion.promotion_support import FakeDeployer, Home, snapshot


def _promote_stage(home: Home, deployer: FakeDeployer, version: int | None = None):
    return promote.promote("stage", version, deployer, stage_data=home.stage_data)


def test_stage_then_prod_copies_the_champion_with_lineage_and_records_everything(
    home: Home, deployer: FakeDeployer
) -> None:
    result = _promote_stage(home, deployer)
    assert (result.env, result.version, result.previous) == ("stage", 3, None)
    assert releases.load_release("stage").model.version == 3
    entry = local_registry.registry_version(3)
    assert entry is not None and entry.stage_passed
    dev = local_registry.dev_version(3)
    for tag in ("git_commit", "data_fingerprint", "pipeline_run_id", "trainer",
                "root_mean_squared_error"):  # fmt: skip
        assert entry.tags[tag] == dev.tags[tag]
    assert entry.tags["source_version"] == "3"
    assert float(entry.tags["stage_root_mean_squared_error"]) < 2.0
    saved = json.loads((settings.store_dir("stage") / "stage-result.json").read_text())
    assert saved["passed"] is True and saved["version"] == 3 and saved["rows"] == 200
    assert history.current_version("stage") == 3

    result = promote.promote("prod", None, deployer)
    assert (result.env, result.version, result.previous) == ("prod", 3, None)
    assert releases.load_release("prod").model.version == 3
    assert deployer.deployed == [("stage", 3), ("prod", 3)]
    assert [v.version for v in local_registry.registry_versions()] == [3]  # copied once

    view = inventory.models_view("prod")
    assert view["released"] == 3 and view["deployed"] == 3
    assert view["versions"][0]["deployed_in"] == ["stage", "prod"]
    dev_view = inventory.models_view("dev")
    assert [(r["version"], r["champion"]) for r in dev_view["versions"]] == [
        (1, False), (2, False), (3, True),
    ]  # fmt: skip
    assert dev_view["versions"][2]["lineage"]["trainer"] == "rf"


def test_failing_stage_tests_tag_the_version_and_leave_stage_and_prod_alone(
    home: Home, deployer: FakeDeployer
) -> None:
    with pytest.raises(MlopsError, match=r"stage tests failed for version 1: root_mean_squared"):
        _promote_stage(home, deployer, 1)  # v1's dev metrics are too good to be reproduced
    entry = local_registry.registry_version(1)
    assert entry is not None and entry.tags["stage_passed"] == "false"
    assert releases.load_release("stage").model.version is None
    assert history.read_history("stage") == []
    before = snapshot(home)
    with pytest.raises(MlopsError, match=r"version 1 of taxi-fare has not passed stage"):
        promote.promote("prod", 1, deployer)
    assert snapshot(home) == before
    assert deployer.deployed == [("stage", 1)]


def test_failing_smoke_test_fails_the_stage_tests(home: Home) -> None:
    with pytest.raises(MlopsError, match="smoke test failed: fake smoke x"):
        _promote_stage(home, FakeDeployer(smoke_ok=False), 2)
    assert releases.load_release("stage").model.version is None


@pytest.mark.parametrize(
    ("to", "version", "message"),
    [
        ("stage", 9, "version 9 of taxi-fare does not exist in dev (versions: 1, 2, 3)"),
        ("prod", 9, "version 9 of taxi-fare is not in the registry; promote it to stage first"),
        ("prod", 2, "version 2 of taxi-fare is not in the registry"),
        ("prod", None, "nothing is released in stage yet"),
        ("dev", 2, "cannot promote to 'dev': expected stage or prod"),
    ],
)
def test_bad_promotions_change_nothing(
    home: Home, deployer: FakeDeployer, to: str, version: int | None, message: str
) -> None:
    before = snapshot(home)
    with pytest.raises(MlopsError) as info:
        promote.promote(to, version, deployer, stage_data=home.stage_data)
    assert message in str(info.value)
    assert snapshot(home) == before
    assert deployer.deployed == []


def test_malformed_release_file_is_refused_before_anything_changes(
    home: Home, deployer: FakeDeployer
) -> None:
    path = home.releases / "stage.yml"
    path.write_text(path.read_text().replace("steps: [10, 50, 100]", "steps: [10, 50]"))
    before = snapshot(home)
    with pytest.raises(MlopsError, match=r"stage\.yml: key 'rollout\.steps': the last step"):
        _promote_stage(home, deployer)
    assert snapshot(home) == before
    assert local_registry.registry_versions() == []


def test_release_file_naming_a_missing_version_is_refused(
    home: Home, deployer: FakeDeployer
) -> None:
    stage = releases.load_release("stage")
    releases.write_release(stage.with_version(7))  # as if a PR named a version never shared
    before = snapshot(home)
    with pytest.raises(MlopsError, match="version 7 of taxi-fare is not in the registry"):
        promote.promote("prod", None, deployer)
    assert snapshot(home) == before


def test_registry_entry_without_its_artifact_is_refused(home: Home, deployer: FakeDeployer) -> None:
    _promote_stage(home, deployer, 3)
    entry = local_registry.registry_version(3)
    assert entry is not None
    source = local_registry.client(settings.REGISTRY).get_model_version_download_uri(
        entry.name, str(entry.store_version)
    )
    shutil.rmtree(urlparse(source).path)
    before = snapshot(home)
    with pytest.raises(MlopsError, match=r"registry version 1 of taxi-fare: model artifact"):
        promote.promote("prod", 3, deployer)
    assert snapshot(home) == before
    assert deployer.deployed == [("stage", 3)]


def test_bad_stage_data_is_refused_before_anything_changes(
    home: Home, deployer: FakeDeployer, tmp_path: Path
) -> None:
    import pandas as pd

    broken = tmp_path / "broken"
    broken.mkdir()
    pd.read_parquet(home.stage_data / "data.parquet").drop(columns=["vendor"]).to_parquet(
        broken / "data.parquet"
    )
    before = snapshot(home)
    with pytest.raises(MlopsError, match=r"data\.parquet: column 'vendor' missing"):
        promote.promote("stage", 3, deployer, stage_data=broken)
    with pytest.raises(MlopsError, match=r"nowhere: stage test data not found"):
        promote.promote("stage", 3, deployer, stage_data=tmp_path / "nowhere")
    assert snapshot(home) == before


def test_two_promotions_at_once_one_wins_the_other_fails_cleanly(home: Home) -> None:
    gate = threading.Event()
    slow = FakeDeployer(release=gate)
    outcome: dict[str, object] = {}

    def first() -> None:
        try:
            outcome["first"] = _promote_stage(home, slow, 3)
        except Exception as exc:  # reported through the assertion below
            outcome["first"] = exc

    thread = threading.Thread(target=first)
    thread.start()
    try:
        assert slow.entered.wait(timeout=60)  # the first promotion holds the lock, mid-deploy
        other = FakeDeployer()
        with pytest.raises(MlopsError, match="another promotion or rollback is running"):
            _promote_stage(home, other, 2)
        with pytest.raises(MlopsError, match="another promotion or rollback is running"):
            promote.rollback("stage", other)
        assert other.deployed == []
    finally:
        gate.set()
        thread.join(timeout=120)
    assert isinstance(outcome["first"], promote.PromotionResult)
    assert releases.load_release("stage").model.version == 3
    assert [v.version for v in local_registry.registry_versions()] == [3]


def test_rollback_needs_history_and_walks_back_one_release_at_a_time(
    home: Home, deployer: FakeDeployer
) -> None:
    before = snapshot(home)
    with pytest.raises(MlopsError, match=r"no previous release of stage .*nothing was released"):
        promote.rollback("stage", deployer)
    assert snapshot(home) == before

    _promote_stage(home, deployer, 2)
    before = snapshot(home)
    with pytest.raises(MlopsError, match=r"only version 2 was released"):
        promote.rollback("stage", deployer)
    assert snapshot(home) == before

    _promote_stage(home, deployer, 3)
    result = promote.rollback("stage", deployer)
    assert (result.left, result.restored) == (3, 2)
    assert releases.load_release("stage").model.version == 2
    assert history.current_version("stage") == 2
    assert [e.action for e in history.read_history("stage")] == ["release", "release", "rollback"]
    with pytest.raises(MlopsError, match="only version 2 was released"):
        promote.rollback("stage", deployer)


def test_corrupt_history_names_file_and_line(home: Home, deployer: FakeDeployer) -> None:
    path = history.history_path("stage")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('{"action": "release", "version": 2, "at": "x"}\nnot json\n')
    with pytest.raises(MlopsError, match=r"release-history\.jsonl: line 2 is not a release"):
        promote.rollback("stage", deployer)


def test_endpoint_failing_on_the_stage_set_is_a_recorded_fail(home: Home) -> None:
    class Broken(FakeDeployer):
        @contextlib.contextmanager
        def deploy(self, env: str, model: object, rollout: object) -> Iterator[object]:
            with super().deploy(env, model, rollout) as endpoint:
                endpoint.predict = _raise  # type: ignore[method-assign]
                yield endpoint

    def _raise(features: object) -> list[float]:
        raise MlopsError("http://stage/score: scoring returned HTTP 500")

    with pytest.raises(MlopsError, match=r"scoring the stage set failed: .*HTTP 500"):
        _promote_stage(home, Broken(), 3)
    entry = local_registry.registry_version(3)
    assert entry is not None and entry.tags["stage_passed"] == "false"
    assert releases.load_release("stage").model.version is None
