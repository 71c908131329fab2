"""Release files: repo files load, round-trips are exact, bad files name file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops.errors import MlopsError
from mlops.registry import releases
from mlops.registry.releases import ModelRelease, Release, RolloutSettings

GOOD = """\
model:
  name: taxi-fare
  version: 3
  registry: mlr-taxifare-0001
rollout:
  steps: [10, 50, 100]
  latency_ms: 500
"""


def test_repo_release_files_load_in_nothing_released_state_or_a_version() -> None:
    for env in ("stage", "prod"):
        release = releases.load_release(env, releases.DEFAULT_RELEASES_DIR)
        assert release.env == env
        assert release.model.name == "taxi-fare"
        assert release.model.version is None or release.model.version >= 1
        assert release.rollout.steps[-1] == 100


def test_good_file_parses_to_values(tmp_path: Path) -> None:
    (tmp_path / "stage.yml").write_text(GOOD)
    release = releases.load_release("stage", tmp_path)
    assert release == Release(
        env="stage",
        model=ModelRelease("taxi-fare", 3, "mlr-taxifare-0001"),
        rollout=RolloutSettings((10, 50, 100), 500),
    )
    assert release.model.azureml_uri() == (
        "azureml://registries/mlr-taxifare-0001/models/taxi-fare/versions/3"
    )


def test_write_then_load_round_trips_including_null(tmp_path: Path) -> None:
    rollout = RolloutSettings((25, 100), 300)
    release = Release("prod", ModelRelease("taxi-fare", None, "reg"), rollout)
    path = releases.write_release(release, tmp_path)
    assert path == tmp_path / "prod.yml"
    assert "version: null" in path.read_text()
    assert releases.load_release("prod", tmp_path) == release
    releases.write_release(release.with_version(7), tmp_path)
    assert releases.load_release("prod", tmp_path).model.version == 7
    assert [p.name for p in tmp_path.iterdir()] == ["prod.yml"]  # no temp file left


def test_env_variable_overrides_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(releases.RELEASES_DIR_ENV, str(tmp_path))
    assert releases.release_path("stage") == tmp_path / "stage.yml"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (GOOD.replace("version: 3", "version: three"), "key 'model.version': expected a positive"),
        (GOOD.replace("version: 3", "version: 0"), "key 'model.version': expected a positive"),
        (GOOD.replace("version: 3", "version: true"), "key 'model.version'"),
        (GOOD.replace("  version: 3\n", ""), "key 'model.version': missing"),
        (GOOD.replace("name: taxi-fare", "name: ''"), "key 'model.name'"),
        (GOOD.replace("registry: mlr-taxifare-0001", "registry: 5"), "key 'model.registry'"),
        (GOOD.replace("[10, 50, 100]", "[50, 10, 100]"), "key 'rollout.steps': expected strictly"),
        (
            GOOD.replace("[10, 50, 100]", "[10, 50]"),
            "key 'rollout.steps': the last step must be 100",
        ),
        (GOOD.replace("[10, 50, 100]", "[10, 150]"), "key 'rollout.steps': expected integers"),
        (GOOD.replace("[10, 50, 100]", "[]"), "key 'rollout.steps'"),
        (GOOD.replace("latency_ms: 500", "latency_ms: -1"), "key 'rollout.latency_ms'"),
        (GOOD + "extra: 1\n", "key 'extra': unknown key"),
        (GOOD.replace("  registry:", "  colour: blue\n  registry:"), "key 'model.colour': unknown"),
        ("- just\n- a list\n", "key '(top level)': expected a mapping"),
        ("rollout:\n  steps: [100]\n  latency_ms: 5\n", "key 'model': missing"),
        ("model: [1\n", "not valid YAML (line"),
    ],
)
def test_malformed_file_names_file_and_key(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "stage.yml"
    path.write_text(text)
    with pytest.raises(MlopsError) as info:
        releases.load_release("stage", tmp_path)
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    assert expected in message
    assert "\n" not in message
    assert path.read_text() == text  # reading never rewrites


def test_missing_file_and_unknown_env(tmp_path: Path) -> None:
    with pytest.raises(MlopsError, match=r"stage\.yml: release file not found"):
        releases.load_release("stage", tmp_path)
    with pytest.raises(MlopsError, match="no release file for environment 'dev'"):
        releases.release_path("dev", tmp_path)
