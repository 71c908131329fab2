"""A release pins the scoring environment its model's trainer needs (issue 13).

An Azure AutoML model loads only in the AutoML runtime (automl-env.yml), a train2 model in the
score environment (score-env.yml): the release checks refuse any other pairing, and the stage
pipeline registers the spec of whichever environment the release pins.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from mlops.cli import main
from mlops.errors import MlopsError
from mlops.promotion import azure_release
from mlops.promotion.azure_release import ModelAsset
from mlops.registry import releases

SHA = "c" * 40
RELEASE = f"""\
model:
  name: taxi-fare
  version: 4
  registry: mlr-taxifare-0001
environment:
  name: {{env}}
  version: 1
code:
  commit: {SHA}
rollout:
  steps: [10, 100]
  latency_ms: 500
"""


def _release(tmp_path: Path, env: str, stage: str = "stage") -> releases.Release:
    (tmp_path / f"{stage}.yml").write_text(RELEASE.format(env=env), encoding="utf-8")
    return releases.load_release(stage, tmp_path)


@pytest.mark.parametrize(
    ("trainer", "env"), [("automl", "taxi-fare-automl-env"), ("rf", "taxi-fare-score-env")]
)
def test_the_environment_of_the_trainer_is_accepted(tmp_path: Path, trainer: str, env: str) -> None:
    releases.check_environment_follows_trainer(_release(tmp_path, env), {"trainer": trainer}, "r")


@pytest.mark.parametrize(
    ("trainer", "env", "message"),
    [
        (
            "automl",
            "taxi-fare-score-env",
            "the stage release pins environment taxi-fare-score-env, but version 4 of taxi-fare "
            "was trained by automl and loads only in taxi-fare-automl-env: pin "
            "taxi-fare-automl-env at the version of automl-env.yml",
        ),
        ("rf", "taxi-fare-automl-env", "was trained by rf and loads only in taxi-fare-score-env"),
        (None, "taxi-fare-score-env", "in reg has trainer tag None, not one of automl, rf"),
        ("xgboost", "taxi-fare-score-env", "has trainer tag 'xgboost'"),
    ],
)
def test_another_pairing_is_refused(
    tmp_path: Path, trainer: str | None, env: str, message: str
) -> None:
    tags = {} if trainer is None else {"trainer": trainer}
    with pytest.raises(MlopsError, match=message):
        releases.check_environment_follows_trainer(_release(tmp_path, env), tags, "reg")


class _Registry:
    def __init__(self, tags: dict[str, str]) -> None:
        self.tags = tags

    def get_tags(self, name: str, version: int) -> dict[str, str] | None:
        return dict(self.tags)

    def set_tags(self, name: str, version: int, tags: dict[str, str]) -> None:
        raise AssertionError("a check writes nothing")


def test_the_azure_release_check_refuses_an_automl_model_in_the_score_env(tmp_path: Path) -> None:
    release = _release(tmp_path, "taxi-fare-score-env")
    registry = _Registry({"trainer": "automl"})
    with pytest.raises(MlopsError, match="loads only in taxi-fare-automl-env"):
        azure_release.check_release(release, registry, "reg", require_pins=True)
    # The local twin serves every model from the venv: no pin to follow there.
    assert azure_release.check_release(release, registry, "reg") == {"trainer": "automl"}


def test_before_merge_refuses_an_automl_model_pinned_to_the_score_env(tmp_path: Path) -> None:
    tags = {**{tag: "x" for tag in azure_release.decision_tags()}, "trainer": "automl"}
    asset = ModelAsset(tags=tags, flavors={"python_function": {}}, path="azureml://m")
    workspace = SimpleNamespace(get_asset=lambda name, version: asset)
    release = _release(tmp_path, "taxi-fare-score-env")
    with pytest.raises(MlopsError, match="was trained by automl and loads only in"):
        azure_release.check_stage_before_merge(release, workspace, "dev", 1, tmp_path)


@pytest.mark.parametrize("name", sorted(releases.ENVIRONMENT_SPECS))
def test_each_scoring_environment_spec_defines_its_name_at_a_pinnable_version(name: str) -> None:
    spec = yaml.safe_load(releases.environment_spec(name).read_text(encoding="utf-8"))
    assert spec["name"] == name
    assert isinstance(spec["version"], int) and spec["version"] >= 1


def test_every_trainer_register_py_writes_has_an_environment() -> None:
    import register

    paths = ["--model_input", "m", "--evaluation_output", "e", "--model_info_output", "i"]
    for trainer in releases.TRAINER_ENVIRONMENTS:
        assert register.parse_args([*paths, "--trainer", trainer]).trainer == trainer
    with pytest.raises(SystemExit):  # and no other trainer tag can be written
        register.parse_args([*paths, "--trainer", "xgboost"])
    assert set(releases.TRAINER_ENVIRONMENTS.values()) == set(releases.ENVIRONMENT_SPECS)


def test_an_environment_the_repository_does_not_define_is_refused() -> None:
    with pytest.raises(MlopsError, match="'my-env' is not a scoring environment"):
        releases.environment_spec("my-env")


def test_ensure_asset_with_a_release_and_no_file_registers_the_pinned_spec(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _release(tmp_path, "taxi-fare-automl-env")
    seen: list[Any] = []
    monkeypatch.setattr("mlops.aml_client.registry_ml_client", lambda name: f"client:{name}")
    monkeypatch.setattr(
        "mlops.azure.assets.ensure_asset",
        lambda client, spec: seen.append((client, spec.name, spec.path)) or str(spec.version),
    )
    main(["azure", "ensure-asset", "--kind", "environment", "--release", "stage",
          "--releases-dir", str(tmp_path)])  # fmt: skip
    spec = releases.ENVIRONMENT_SPECS["taxi-fare-automl-env"]
    assert seen == [("client:mlr-taxifare-0001", "taxi-fare-automl-env", spec)]
    assert capsys.readouterr().out.strip() == "environment taxi-fare-automl-env:1"


def test_ensure_asset_without_file_or_release_is_refused(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as raised:
        main(["azure", "ensure-asset", "--kind", "environment"])
    assert raised.value.code != 0
    assert "ensure-asset needs --file" in capsys.readouterr().err
