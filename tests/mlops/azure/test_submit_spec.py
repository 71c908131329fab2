"""mlops azure submit, the offline half: workspace per env, the loaded job and its overrides."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mlops.azure.names import read_variables
from mlops.azure.submit.spec import (
    TRAIN_DIR,
    AssetRef,
    job_name,
    load_pipeline,
    parse_sets,
    pipeline_path,
)
from mlops.azure.submit.target import resolve_target
from mlops.errors import MlopsError
from mlops.settings import REPO_ROOT

SUB = "11111111-2222-3333-4444-555555555555"


def _load(path: Path = TRAIN_DIR / "pipeline.yml", sets=(), data=None):
    return load_pipeline(
        path,
        name="taxi-fare-train-20261201-000000-abcdef",
        experiment="taxi-fare-train",
        compute="cpu-cluster",
        tags={"git_commit": "abc123"},
        sets=parse_sets(list(sets)),
        data=data,
    )


@pytest.mark.parametrize("env", ["dev", "stage", "prod"])
def test_the_workspace_resolves_per_env_from_the_config_files(env: str) -> None:
    target = resolve_target(env, environ={"AZURE_SUBSCRIPTION_ID": SUB})
    assert target.ref.subscription_id == SUB
    assert target.ref.resource_group == f"rg-taxifare-0001{env}"
    assert target.ref.workspace == f"mlw-taxifare-0001{env}"
    assert target.experiment == "taxi-fare-train"
    assert target.compute.name == "cpu-cluster"
    config = read_variables(REPO_ROOT / f"config-infra-{env}.yml")
    assert target.compute.size == config["compute_vm_size"]
    assert target.compute.min_instances == int(config["compute_min_instances"])
    assert target.compute.max_instances == int(config["compute_max_instances"])
    assert target.compute.identity == f"id-taxifare-0001{env}-compute"


def test_the_config_decides_the_names(tmp_path: Path) -> None:
    """A fork that changes namespace/postfix and cluster size gets its own names."""
    (tmp_path / "mlops" / "devops-pipelines" / "variables").mkdir(parents=True)
    names = REPO_ROOT / "mlops" / "devops-pipelines" / "variables" / "names.yml"
    shutil.copy(names, tmp_path / "mlops" / "devops-pipelines" / "variables" / "names.yml")
    config = (REPO_ROOT / "config-infra-dev.yml").read_text(encoding="utf-8")
    config = config.replace("namespace: taxifare", "namespace: fares").replace(
        "compute_max_instances: 2", "compute_max_instances: 6"
    )
    (tmp_path / "config-infra-dev.yml").write_text(config, encoding="utf-8")
    target = resolve_target("dev", subscription=SUB, environ={}, root=tmp_path)
    assert target.ref.workspace == "mlw-fares-0001dev"
    assert target.ref.resource_group == "rg-fares-0001dev"
    assert target.compute.max_instances == 6


def test_flags_override_the_config_and_the_subscription_falls_back_to_az() -> None:
    target = resolve_target(
        "stage",
        resource_group="rg-mine",
        workspace="mlw-mine",
        environ={},
        default_subscription=lambda: SUB,
    )
    assert (target.ref.subscription_id, target.ref.resource_group, target.ref.workspace) == (
        SUB,
        "rg-mine",
        "mlw-mine",
    )
    flag = resolve_target("dev", subscription="flag-sub", environ={"AML_SUBSCRIPTION_ID": "env"})
    assert flag.ref.subscription_id == "flag-sub"


def test_no_subscription_anywhere_is_one_line_saying_what_to_do() -> None:
    with pytest.raises(MlopsError, match="pass --subscription, set AZURE_SUBSCRIPTION_ID"):
        resolve_target("dev", environ={}, default_subscription=lambda: None)


def test_an_unknown_env_is_refused() -> None:
    with pytest.raises(MlopsError, match="unknown environment 'qa'"):
        resolve_target("qa", subscription=SUB, environ={})


def test_trainers_pick_the_pipeline_yaml_of_the_devops_pipeline() -> None:
    assert pipeline_path(None, None) == ("automl", TRAIN_DIR / "pipeline-automl.yml")
    assert pipeline_path("random_forest", None) == ("random_forest", TRAIN_DIR / "pipeline.yml")
    assert pipeline_path("rf", None)[1] == TRAIN_DIR / "pipeline.yml"
    with pytest.raises(MlopsError, match="--trainer 'xgb': expected one of automl, random_forest"):
        pipeline_path("xgb", None)
    with pytest.raises(MlopsError, match="not both"):
        pipeline_path("automl", TRAIN_DIR / "pipeline.yml")


def test_the_loaded_job_carries_name_experiment_compute_and_tags() -> None:
    loaded = _load()
    job = loaded.job
    assert type(job).__name__ == "PipelineJob"
    assert job.name == "taxi-fare-train-20261201-000000-abcdef"
    assert job.experiment_name == "taxi-fare-train"
    assert job.settings.default_compute == "cpu-cluster"
    assert job.tags == {"git_commit": "abc123"}
    assert loaded.steps == ["prep", "train", "evaluate", "register"]
    assert loaded.environments == [AssetRef("taxi-fare-train-env", label="latest")]
    assert loaded.data_assets == [AssetRef("taxi-fare-raw", label="latest")]
    assert loaded.computes == ["cpu-cluster"]


def test_set_overrides_pipeline_inputs_and_dotted_fields() -> None:
    loaded = _load(
        TRAIN_DIR / "pipeline-automl.yml",
        sets=["seed=7", "gate_mode=dry_run", "jobs.train.limits.max_trials=4"],
    )
    assert loaded.job.inputs["seed"].result() == 7
    assert loaded.job.inputs["gate_mode"].result() == "dry_run"
    assert loaded.job.jobs["train"].limits.max_trials == 4


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("sed=7", r"--set sed: pipeline.yml has no input 'sed' \(inputs: gate_mode, max_depth"),
        ("raw_data=x", "'raw_data' is a data input; use --data"),
        ("seed", "--set 'seed': expected NAME=VALUE"),
        ("seed=[1", "value is not valid YAML"),
    ],
)
def test_bad_set_is_one_line(item: str, message: str) -> None:
    with pytest.raises(MlopsError, match=message):
        _load(sets=[item])


def test_data_name_at_version_replaces_the_data_input() -> None:
    loaded = _load(data="taxi-fare-raw@3")
    assert loaded.job.inputs["raw_data"].result().path == "taxi-fare-raw:3"
    assert loaded.data_assets == [AssetRef("taxi-fare-raw", version="3")]
    latest = _load(data="other-raw@latest")
    assert latest.data_assets == [AssetRef("other-raw", label="latest")]


def test_data_path_is_uploaded_by_the_sdk_not_registered(tmp_path: Path) -> None:
    (tmp_path / "green_1.csv").write_text("a\n1\n", encoding="utf-8")
    loaded = _load(data=str(tmp_path))
    value = loaded.job.inputs["raw_data"].result()
    assert (value.type, value.path) == ("uri_folder", str(tmp_path.resolve()))
    assert loaded.data_assets == []


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("no/such/folder", "no such file or folder, and not NAME@VERSION"),
        ("taxi-fare-raw", "not NAME@VERSION"),
        ("taxi-fare-raw@", "not NAME@VERSION"),
    ],
)
def test_bad_data_is_one_line(value: str, message: str) -> None:
    with pytest.raises(MlopsError, match=message):
        _load(data=value)


def test_a_file_for_a_folder_input_is_refused(tmp_path: Path) -> None:
    file = tmp_path / "green.csv"
    file.write_text("a\n1\n", encoding="utf-8")
    with pytest.raises(MlopsError, match="input 'raw_data' is a uri_folder; give a folder"):
        _load(data=str(file))


def _copy_train(tmp_path: Path) -> Path:
    """The train folder where its relative paths (code, data) still resolve."""
    root = tmp_path / "repo"
    shutil.copytree(TRAIN_DIR, root / "mlops" / "azureml" / "train")
    (root / "data-science").symlink_to(REPO_ROOT / "data-science")
    (root / "data").symlink_to(REPO_ROOT / "data")
    return root / "mlops" / "azureml" / "train"


def test_a_yaml_syntax_error_names_file_line_and_column(tmp_path: Path) -> None:
    train = _copy_train(tmp_path)
    text = (train / "pipeline.yml").read_text(encoding="utf-8")
    (train / "pipeline.yml").write_text(text.replace("seed: 42", "seed: [42"), encoding="utf-8")
    with pytest.raises(MlopsError, match=r"pipeline.yml:\d+:\d+: invalid YAML"):
        _load(train / "pipeline.yml")


def test_a_schema_error_is_the_sdk_error_in_one_line(tmp_path: Path) -> None:
    """marshmallow's ValidationError from load_job: file:line, field, value, message."""
    train = _copy_train(tmp_path)
    text = (train / "pipeline.yml").read_text(encoding="utf-8")
    (train / "pipeline.yml").write_text(
        text.replace("type: command", "type: comand", 1), encoding="utf-8"
    )
    with pytest.raises(MlopsError) as caught:
        _load(train / "pipeline.yml")
    line = str(caught.value)
    assert "\n" not in line
    assert f"{train / 'pipeline.yml'}:29: jobs.prep.type = 'comand': Value 'comand'" in line


def test_a_missing_or_broken_component_names_the_file(tmp_path: Path) -> None:
    train = _copy_train(tmp_path)
    text = (train / "pipeline.yml").read_text(encoding="utf-8")
    (train / "pipeline.yml").write_text(text.replace("prep.yml", "prepp.yml"), encoding="utf-8")
    with pytest.raises(MlopsError, match=r"jobs.prep.component = './components/prepp.yml': no"):
        _load(train / "pipeline.yml")
    (train / "pipeline.yml").write_text(text, encoding="utf-8")
    (train / "components" / "prep.yml").write_text("name: [x\n", encoding="utf-8")
    with pytest.raises(MlopsError, match=r"components/prep.yml:2:1: invalid YAML"):
        _load(train / "pipeline.yml")


def test_job_names_are_unique_and_azure_safe() -> None:
    names = {job_name("taxi-fare-train") for _ in range(20)}
    assert len(names) == 20
    assert all(n.startswith("taxi-fare-train-") and n.replace("-", "").isalnum() for n in names)
