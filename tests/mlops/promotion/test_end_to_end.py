"""Done-when: train -> stage -> prod -> train a second model -> promote it -> rollback.

Real everything: the step scripts (prep, train2, evaluate, register, stageprep) on tiny
generated data, the real MLflow stores under a tmp $MLOPS_HOME, and the real local
deployer (the Azure ML inference server with score.py, and the smoke test).
"""

from __future__ import annotations

import json
from pathlib import Path

import evaluate
import prep
import pytest
import register
import stageprep
import train2

from mlops import settings
from mlops.endpoints.local_deploy import LocalDeployer
from mlops.errors import MlopsError
from mlops.promotion import inventory, promote
from mlops.registry import history, local_registry, releases

pytestmark = pytest.mark.e2e


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, empty_registry_db: Path) -> Path:
    """A fresh $MLOPS_HOME, tmp release files with a relaxed latency budget, a dev experiment."""
    import shutil

    from mlops.datagen.generator import generate

    monkeypatch.setenv("MLOPS_HOME", str(tmp_path / "home"))
    for store in ("dev", settings.REGISTRY):  # empty stores, without paying for their creation
        settings.store_dir(store).mkdir(parents=True)
        shutil.copyfile(empty_registry_db, settings.store_dir(store) / "mlflow.db")
    monkeypatch.setenv(releases.RELEASES_DIR_ENV, str(tmp_path / "releases"))
    monkeypatch.setenv("GIT_COMMIT", "e2e0000")
    for env in releases.RELEASE_ENVIRONMENTS:
        # A loaded 2-core CI box is slow; the budget here is not what this test is about.
        releases.write_release(
            releases.Release(
                env,
                releases.ModelRelease("taxi-fare", None, "mlr-taxifare-0001"),
                releases.RolloutSettings((10, 50, 100), 5000),
            )
        )
    client = local_registry.client("dev")
    experiment = client.create_experiment("e2e", artifact_location=settings.artifact_root("dev"))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", settings.tracking_uri("dev"))
    monkeypatch.setenv("MLFLOW_EXPERIMENT_ID", experiment)
    generate(1500, tmp_path / "raw", seed=11)
    return tmp_path


def _train_and_register(work: Path, name: str, trees: int, depth: int) -> dict:
    """prep -> train2 -> evaluate -> register, as the training pipeline runs them."""
    out = work / name
    raw = str(work / "raw")
    assert prep.main(["--raw_data", raw, "--train_data", str(out / "train"),
                      "--test_data", str(out / "test"), "--quality_report", str(out / "quality"),
                      "--seed", "42"]) == 0  # fmt: skip
    assert train2.main(["--train_data", str(out / "train"), "--model_output", str(out / "model"),
                        "--n_estimators", str(trees), "--max_depth", str(depth)]) == 0  # fmt: skip
    assert evaluate.main(["--model_input", str(out / "model"), "--test_data", str(out / "test"),
                          "--evaluation_output", str(out / "eval")]) == 0  # fmt: skip
    assert register.main(["--model_input", str(out / "model"), "--evaluation_output",
                          str(out / "eval"), "--model_info_output", str(out / "info"),
                          "--quality_report", str(out / "quality")]) == 0  # fmt: skip
    return json.loads((out / "info" / "model_info.json").read_text())


def _state() -> dict[str, object]:
    return {
        "stage": (releases.load_release("stage").model.version, history.current_version("stage")),
        "prod": (releases.load_release("prod").model.version, history.current_version("prod")),
        "registry": [(v.version, v.stage_passed) for v in local_registry.registry_versions()],
    }


def test_train_promote_stage_prod_second_model_then_rollback(workspace: Path) -> None:
    first = _train_and_register(workspace, "first", trees=4, depth=3)
    assert (first["registered"], first["version"]) == (True, 1)

    stage_data = workspace / "stage-data"
    assert stageprep.main(["--raw_data", str(workspace / "raw"), "--exclude_data",
                           str(workspace / "first" / "train"), "--stage_data", str(stage_data),
                           "--newest_fraction", "0.5"]) == 0  # fmt: skip
    deployer = LocalDeployer()

    result = promote.promote("stage", None, deployer, stage_data=stage_data)
    assert (result.version, result.previous) == (1, None)
    assert result.stage_result is not None and result.stage_result["passed"] is True
    assert _state() == {"stage": (1, 1), "prod": (None, None), "registry": [(1, True)]}
    entry = local_registry.registry_version(1)
    assert entry is not None
    assert entry.tags["git_commit"] == "e2e0000" and entry.tags["trainer"] == "rf"
    dev_tags = local_registry.dev_version(1).tags
    assert entry.tags["data_fingerprint"] == dev_tags["data_fingerprint"]

    result = promote.promote("prod", None, deployer)
    assert (result.version, result.previous) == (1, None)
    assert _state() == {"stage": (1, 1), "prod": (1, 1), "registry": [(1, True)]}

    second = _train_and_register(workspace, "second", trees=30, depth=12)
    assert (second["registered"], second["version"]) == (True, 2)  # it beat the champion
    with pytest.raises(MlopsError, match="version 2 of taxi-fare is not in the registry"):
        promote.promote("prod", 2, deployer)  # not through stage yet: refused, nothing changes
    assert _state() == {"stage": (1, 1), "prod": (1, 1), "registry": [(1, True)]}

    promote.promote("stage", None, deployer, stage_data=stage_data)
    promote.promote("prod", None, deployer)
    assert _state() == {"stage": (2, 2), "prod": (2, 2), "registry": [(1, True), (2, True)]}
    view = inventory.models_view("prod")
    assert (view["champion"], view["released"], view["deployed"]) == (2, 2, 2)

    rolled = promote.rollback("prod", deployer)
    assert (rolled.left, rolled.restored) == (2, 1)
    assert _state() == {"stage": (2, 2), "prod": (1, 1), "registry": [(1, True), (2, True)]}
    # The same artifact runs everywhere: the registry copies hold dev's model files.
    for version in (1, 2):
        with local_registry.downloaded(local_registry.registry_version(version)) as files:
            copied = (files / "MLmodel").read_text()
        with local_registry.downloaded(local_registry.dev_version(version)) as files:
            assert (files / "MLmodel").read_text() == copied
