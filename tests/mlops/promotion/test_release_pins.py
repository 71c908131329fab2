"""Issue 12 #2, #6, #8 and the share lesser item: release pins, what a PR can check before
the merge, and a share that never mistakes another model for the released one."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from azure.core.exceptions import ResourceNotFoundError

from mlops.cli import main
from mlops.errors import MlopsError
from mlops.promotion import azure_release
from mlops.promotion.azure_release import ModelAsset
from mlops.registry import releases
from mlops.registry.releases import CodeRelease, EnvironmentRelease

SHA_A = "a" * 40
SHA_B = "b" * 40
PINNED = f"""\
model:
  name: taxi-fare
  version: 4
  registry: mlr-taxifare-0001
environment:
  name: taxi-fare-score-env
  version: 2
code:
  commit: {SHA_A}
rollout:
  steps: [10, 50, 100]
  latency_ms: 500
"""
STAGE_TAGS = {
    "trainer": "rf",  # a train2 model: it runs in taxi-fare-score-env
    "stage_passed": "true",
    "stage_environment": "taxi-fare-score-env:2",
    "stage_commit": SHA_A,
}


def _write(tmp_path: Path, env: str, text: str) -> Path:
    (tmp_path / f"{env}.yml").write_text(text, encoding="utf-8")
    return tmp_path


# --- the release file carries the pins --------------------------------------------------


def test_pins_parse_render_and_round_trip(tmp_path: Path) -> None:
    release = releases.load_release("prod", _write(tmp_path, "prod", PINNED))
    assert release.environment == EnvironmentRelease("taxi-fare-score-env", 2)
    assert release.code == CodeRelease(SHA_A)
    assert release.environment.azureml_uri("mlr-taxifare-0001") == (
        "azureml://registries/mlr-taxifare-0001/environments/taxi-fare-score-env/versions/2"
    )
    out = tmp_path / "out"
    releases.write_release(release.with_version(5), out)
    again = releases.load_release("prod", out)
    assert (again.model.version, again.environment, again.code) == (
        5,
        release.environment,
        release.code,
    )


def test_a_file_without_pins_keeps_its_layout(tmp_path: Path) -> None:
    text = PINNED.split("environment:", maxsplit=1)[0] + "rollout:" + PINNED.split("rollout:")[1]
    release = releases.load_release("stage", _write(tmp_path, "stage", text))
    assert release.environment is None and release.code is None
    assert "environment:" not in releases.render_release(release)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (f"commit: {SHA_A}", "commit: abc123", "key 'code.commit': expected a full 40-character"),
        (f"commit: {SHA_A}", "commit: 12", "key 'code.commit'"),
        ("  version: 2\n", "  version: two\n", "key 'environment.version': expected a positive"),
        ("  version: 2\n", "", "key 'environment.version': missing"),
        ("name: taxi-fare-score-env", "name: ''", "key 'environment.name'"),
        (f"  commit: {SHA_A}\n", f"  commit: {SHA_A}\n  branch: main\n", "key 'code.branch'"),
    ],
)
def test_bad_pins_name_the_file_and_key(tmp_path: Path, old: str, new: str, message: str) -> None:
    _write(tmp_path, "prod", PINNED.replace(old, new, 1))
    with pytest.raises(MlopsError, match=message) as err:
        releases.load_release("prod", tmp_path)
    assert str(tmp_path / "prod.yml") in str(err.value)


# --- prod runs what stage tested -------------------------------------------------------


class _Registry:
    def __init__(self, tags: dict[int, dict[str, str]]) -> None:
        self.tags = tags
        self.set: list[tuple[int, dict[str, str]]] = []

    def get_tags(self, name: str, version: int) -> dict[str, str] | None:
        return None if version not in self.tags else dict(self.tags[version])

    def set_tags(self, name: str, version: int, tags: dict[str, str]) -> None:
        self.set.append((version, dict(tags)))
        self.tags.setdefault(version, {}).update(tags)


def _prod(tmp_path: Path, text: str = PINNED) -> releases.Release:
    return releases.load_release("prod", _write(tmp_path, "prod", text))


def test_prod_with_the_pins_stage_tested_passes(tmp_path: Path) -> None:
    registry = _Registry({4: STAGE_TAGS})
    azure_release.check_release(_prod(tmp_path), registry, "reg", require_pins=True)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("  version: 2\n", "  version: 3\n", "pins environment taxi-fare-score-env:3, but stage "
         "tested version 4 with taxi-fare-score-env:2"),
        (f"commit: {SHA_A}", f"commit: {SHA_B}", f"pins code.commit {SHA_B}, but stage tested"),
    ],
)  # fmt: skip
def test_prod_pins_that_differ_from_stage_are_refused(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    registry = _Registry({4: STAGE_TAGS})
    with pytest.raises(MlopsError, match=message):
        azure_release.check_release(_prod(tmp_path, PINNED.replace(old, new)), registry, "reg")


def test_a_stage_pass_without_recorded_pins_is_refused_for_a_pinned_prod(tmp_path: Path) -> None:
    registry = _Registry({4: {"stage_passed": "true"}})
    with pytest.raises(MlopsError, match="records no stage_environment"):
        azure_release.check_release(_prod(tmp_path), registry, "reg")


def test_azure_checks_refuse_an_unpinned_release(tmp_path: Path) -> None:
    text = PINNED.replace(f"code:\n  commit: {SHA_A}\n", "")
    registry = _Registry({4: STAGE_TAGS})
    with pytest.raises(MlopsError, match=r"pins no code.commit"):
        azure_release.check_release(_prod(tmp_path, text), registry, "reg", require_pins=True)


def test_the_pins_stage_ran_become_tags(tmp_path: Path) -> None:
    release = releases.load_release("stage", _write(tmp_path, "stage", PINNED))
    assert azure_release.pin_tags(release) == {
        "stage_environment": "taxi-fare-score-env:2",
        "stage_commit": SHA_A,
    }


def test_stage_test_records_the_pins_with_the_verdict(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from mlops.promotion import commands, stage_tests

    _write(tmp_path, "stage", PINNED)
    registry = _Registry({4: {"model_uuid": "u", "trainer": "rf"}})
    monkeypatch.setattr(commands, "_registry", lambda azure, name: (registry, "reg"))
    monkeypatch.setattr(stage_tests, "read_stage_data", lambda path: None)
    verdict = SimpleNamespace(
        passed=True,
        version=4,
        reason="ok",
        tags=lambda: {"stage_passed": "true"},
        to_dict=lambda: {"version": 4, "passed": True},
    )
    monkeypatch.setattr(stage_tests, "run_stage_tests", lambda *a, **k: verdict)
    out = tmp_path / "result.json"
    url = "http://127.0.0.1:9/score"
    main(["release", "stage-test", "--url", url, "--stage-data", str(tmp_path),
          "--output", str(out), "--azure", "--releases-dir", str(tmp_path)])  # fmt: skip
    assert registry.set == [
        (4, {"stage_passed": "true", "stage_environment": "taxi-fare-score-env:2",
             "stage_commit": SHA_A}),
    ]  # fmt: skip
    # ...which is exactly what the prod check then accepts for the same pins.
    prod_dir = tmp_path / "prod"
    prod_dir.mkdir()
    azure_release.check_release(_prod(prod_dir), registry, "reg", require_pins=True)


# --- before the merge: stage against the dev workspace ---------------------------------


def _git_repo(tmp_path: Path) -> tuple[Path, str]:
    repo = tmp_path / "repo"
    repo.mkdir()
    run = {"cwd": repo, "check": True, "capture_output": True, "text": True}
    subprocess.run(["git", "init", "-q"], **run)
    (repo / "f.txt").write_text("x")
    subprocess.run(["git", "add", "f.txt"], **run)
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "c"], **run
    )
    sha = subprocess.run(["git", "rev-parse", "HEAD"], **run).stdout.strip()
    return repo, sha


@dataclass
class _Workspace:
    assets: dict[int, ModelAsset] = field(default_factory=dict)

    def get_asset(self, name: str, version: int) -> ModelAsset | None:
        return self.assets.get(version)


def _promoted(**change: Any) -> ModelAsset:
    tags = {**{tag: "x" for tag in azure_release.decision_tags()}, "trainer": "rf"}
    asset = {"tags": tags, "flavors": {"python_function": {}, "sklearn": {}}, "path": "azureml://x"}
    asset.update(change)
    return ModelAsset(**asset)


def _stage(tmp_path: Path, sha: str) -> releases.Release:
    folder = tmp_path / "rel"
    folder.mkdir(exist_ok=True)
    return releases.load_release("stage", _write(folder, "stage", PINNED.replace(SHA_A, sha)))


def test_a_promoted_complete_version_with_good_pins_passes_before_merge(tmp_path: Path) -> None:
    repo, sha = _git_repo(tmp_path)
    workspace = _Workspace({4: _promoted()})
    asset = azure_release.check_stage_before_merge(_stage(tmp_path, sha), workspace, "dev", 2, repo)
    assert asset.flavors["python_function"] == {}


@pytest.mark.parametrize(
    ("assets", "spec_version", "commit", "message"),
    [
        ({}, 2, None, "which dev does not hold; only versions the dev training registered"),
        ({4: "no-metrics"}, 2, None, "lacks the tags of a promote decision"),
        ({4: "no-flavor"}, 2, None, "has no complete MLflow artifact"),
        ({4: "ok"}, 3, None, "but the scoring environment spec says version 3"),
        ({4: "ok"}, 2, SHA_B, f"pins code commit {SHA_B}, which is not in the history"),
    ],
)
def test_before_merge_refusals(
    tmp_path: Path, assets: dict[int, str], spec_version: int, commit: str | None, message: str
) -> None:
    repo, sha = _git_repo(tmp_path)
    kinds = {
        "ok": _promoted(),
        "no-metrics": _promoted(tags={"model_uuid": "u", "git_commit": "c"}),
        "no-flavor": _promoted(flavors={}),
    }
    workspace = _Workspace({v: kinds[k] for v, k in assets.items()})
    release = _stage(tmp_path, commit or sha)
    with pytest.raises(MlopsError, match=message):
        azure_release.check_stage_before_merge(release, workspace, "dev", spec_version, repo)


def test_the_repository_score_environment_has_a_version_to_pin() -> None:
    name, version = azure_release.spec_environment(azure_release.SCORE_ENVIRONMENT_SPEC)
    assert name == "taxi-fare-score-env" and isinstance(version, int) and version >= 1


def test_before_merge_cli_reads_the_dev_workspace_and_names_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout
    folder = tmp_path / "rel"
    folder.mkdir()
    spec_version = azure_release.spec_environment(azure_release.SCORE_ENVIRONMENT_SPEC)[1]
    text = PINNED.replace(SHA_A, head.strip()).replace(
        "  version: 2\n", f"  version: {spec_version}\n"
    )
    _write(folder, "stage", text)
    seen: list[Any] = []

    class _Models:
        def get(self, name: str, version: str) -> Any:
            seen.append((name, version))
            if version != "4":
                raise ResourceNotFoundError("no")
            tags = {**{tag: "x" for tag in azure_release.decision_tags()}, "trainer": "rf"}
            return SimpleNamespace(tags=tags, flavors={"python_function": {}}, path="azureml://m")

    monkeypatch.setattr(
        "mlops.aml_client.ml_client",
        lambda ref, credential=None: SimpleNamespace(models=_Models()),
    )
    args = ["release", "check", "--env", "stage", "--azure", "--before-merge", "--releases-dir",
            str(folder), "--dev-subscription-id", "s", "--dev-resource-group", "rg-dev",
            "--dev-workspace", "mlw-dev"]  # fmt: skip
    main(args)
    assert seen == [("taxi-fare", "4")]
    assert "in dev workspace mlw-dev: ok" in capsys.readouterr().out
    _write(folder, "stage", text.replace("version: 4", "version: 9"))
    with pytest.raises(SystemExit):
        main(args)
    err = capsys.readouterr().err
    assert err.startswith(f"error: {folder / 'stage.yml'}: the stage release names version 9")


def test_before_merge_needs_azure(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write(tmp_path, "stage", PINNED)
    with pytest.raises(SystemExit):
        main(
            [
                "release",
                "check",
                "--env",
                "stage",
                "--before-merge",
                "--releases-dir",
                str(tmp_path),
            ]
        )
    assert "add --azure" in capsys.readouterr().err


# --- share compares identity, not just name and number --------------------------------


class _Models:
    def __init__(self, held: dict[str, dict[str, str]]) -> None:
        self.held = held
        self.shared: list[dict[str, Any]] = []

    def get(self, name: str, version: str) -> Any:
        if version not in self.held:
            raise ResourceNotFoundError(f"{name}:{version}")
        return SimpleNamespace(name=name, version=version, tags=dict(self.held[version]))

    def share(self, **kwargs: Any) -> None:
        self.shared.append(kwargs)


def test_a_registry_version_of_another_model_is_refused_not_matched() -> None:
    workspace = SimpleNamespace(models=_Models({"1": {"model_uuid": "new", "trainer": "rf"}}))
    registry = _Registry({1: {"model_uuid": "old", "trainer": "rf"}})
    with pytest.raises(MlopsError, match=r"holds a different version 1 of taxi-fare .*model_uuid"):
        azure_release.share(workspace, registry, "taxi-fare", 1, "mlr")
    assert workspace.models.shared == [] and registry.set == []


def test_a_version_without_identity_tags_cannot_be_matched() -> None:
    workspace = SimpleNamespace(models=_Models({"1": {}}))
    with pytest.raises(MlopsError, match="none of the identity tags"):
        azure_release.share(workspace, _Registry({1: {}}), "taxi-fare", 1, "mlr")
