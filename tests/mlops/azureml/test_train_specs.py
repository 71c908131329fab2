"""The Azure ML training specs load with azure-ai-ml's own loaders and validate, offline.

Each spec goes through the loader Azure ML's CLI uses (``load_component``, ``load_job``,
``load_data``, ``load_environment``) and ``_validate()`` where the entity has it; the
pipelines also go through the local twin's loader, which checks every binding against the
components (azure-ai-ml does not check output names offline).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
TRAIN = ROOT / "mlops" / "azureml" / "train"
COMPONENTS = sorted((TRAIN / "components").glob("*.yml"))
PIPELINES = [TRAIN / "pipeline.yml", TRAIN / "pipeline-automl.yml"]
CODE = ROOT / "data-science" / "src"
SCHEMA = "https://azuremlschemas.azureedge.net/latest/"
STEPS = {
    "pipeline.yml": ["prep", "train", "evaluate", "register"],
    "pipeline-automl.yml": ["prep", "featurize", "train", "package", "evaluate", "register"],
}


def _yaml(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


@pytest.fixture(scope="module")
def aml() -> Any:
    """azure-ai-ml, imported once per module (it takes a few seconds)."""
    import azure.ai.ml as aml

    return aml


def test_the_expected_specs_exist() -> None:
    assert [p.stem for p in COMPONENTS] == [
        "evaluate",
        "featurize",
        "package",
        "prep",
        "prep_combine",
        "prep_files",
        "register",
        "train",
        "train2",
    ]
    specs = ("pipeline.yml", "pipeline-automl.yml", "data.yml", "train-env.yml", "automl-env.yml")
    for name in specs:
        assert (TRAIN / name).is_file(), name


@pytest.mark.parametrize("path", COMPONENTS, ids=lambda p: p.stem)
def test_component_loads_and_validates(aml: Any, path: Path) -> None:
    component = aml.load_component(source=path)
    result = component._validate()
    assert result.passed, result.error_messages
    raw = _yaml(path)
    parallel = raw["type"] == "parallel"  # code, environment and script live under task:
    task = raw["task"] if parallel else raw
    kind = "parallelComponent" if parallel else "commandComponent"
    assert raw["$schema"] == SCHEMA + f"{kind}.schema.json"
    assert (path.parent / task["code"]).resolve() == CODE
    # package loads the AutoML best model: it needs the AutoML runtime (automl-env.yml).
    env = "taxi-fare-automl-env" if path.stem == "package" else "taxi-fare-train-env"
    assert task["environment"] == f"azureml:{env}@latest"
    if parallel:
        assert (CODE / task["entry_script"]).is_file()
    else:
        script = re.match(r"python (\S+\.py)", raw["command"]).group(1)
        assert script == f"{path.stem}.py"


@pytest.mark.parametrize("path", COMPONENTS, ids=lambda p: p.stem)
def test_component_inputs_are_typed_and_bounded(path: Path) -> None:
    raw = _yaml(path)
    if raw["type"] == "parallel":  # what reaches the entry script, as a command would
        task = raw["task"]
        raw["command"] = " ".join([raw["input_data"], task["program_arguments"],
                                   task.get("append_row_to", "")])  # fmt: skip
    for name, spec in raw["inputs"].items():
        assert "type" in spec, f"{path.name}: input {name} has no type"
        if spec["type"] in ("integer", "number"):
            assert "min" in spec and "max" in spec, f"{path.name}: input {name} is unbounded"
            assert spec["min"] <= spec.get("default", spec["min"]) <= spec["max"], name
        if spec["type"] == "string" and "enum" in spec and "default" in spec:
            assert spec["default"] in spec["enum"], f"{path.name}: {name} default not in enum"
        # Every input the component declares reaches the script (or is a documented check).
        used = f"${{{{inputs.{name}}}}}" in raw["command"]
        assert used or name == "target_column_name", f"{path.name}: input {name} unused"
    for name in raw["outputs"]:
        assert f"${{{{outputs.{name}}}}}" in raw["command"], f"{path.name}: output {name} unused"


def test_output_types_follow_the_folder_contract() -> None:
    outputs = {p.stem: {n: s["type"] for n, s in _yaml(p)["outputs"].items()} for p in COMPONENTS}
    assert outputs["prep"] == {
        "train_data": "mltable",
        "test_data": "mltable",
        "quality_report": "uri_folder",
    }
    assert outputs["train"] == {"model_output": "mlflow_model"}
    assert outputs["featurize"] == {"features_data": "mltable"}
    assert outputs["package"] == {"model_output": "mlflow_model"}
    assert outputs["train2"] == {"model_output": "mlflow_model"}
    assert outputs["evaluate"] == {"evaluation_output": "uri_folder"}
    assert outputs["register"] == {"model_info_output": "uri_folder"}


@pytest.mark.parametrize("path", PIPELINES, ids=lambda p: p.stem)
def test_pipeline_loads_and_validates(aml: Any, path: Path) -> None:
    job = aml.load_job(source=path)
    result = job._validate()
    assert result.passed, result.error_messages
    assert job.settings.continue_on_step_failure is False
    assert job.settings.default_compute == "cpu-cluster"  # the loader strips "azureml:"
    assert job.experiment_name == "taxi-fare-train"
    assert list(job.jobs) == STEPS[path.name]
    assert _yaml(path)["$schema"] == SCHEMA + "pipelineJob.schema.json"


def test_automl_pipeline_uses_the_native_regression_node(aml: Any) -> None:
    from azure.ai.ml.automl import RegressionJob

    job = aml.load_job(source=TRAIN / "pipeline-automl.yml")
    node = job.jobs["train"]
    assert isinstance(node, RegressionJob)
    assert node.target_column_name == "cost"
    raw = _yaml(TRAIN / "pipeline-automl.yml")["jobs"]["train"]
    assert raw["outputs"]["best_model"]["type"] == "mlflow_model"
    assert raw["training_data"] == "${{parent.jobs.featurize.outputs.features_data}}"
    features = _yaml(TRAIN / "components" / "featurize.yml")["outputs"]["features_data"]
    assert features["type"] == "mltable"


@pytest.mark.parametrize("path", PIPELINES, ids=lambda p: p.stem)
def test_pipeline_bindings_resolve_in_the_local_twin(path: Path) -> None:
    from mlops.local.pipeline import load_pipeline

    pipeline = load_pipeline(path)
    assert [s.name for s in pipeline.steps] == STEPS[path.name]
    assert pipeline.inputs["raw_data"].value == ROOT / "data" / "sample"


def test_local_and_azure_loaders_agree_on_component_interfaces(aml: Any) -> None:
    from mlops.local.component import load_component

    for path in COMPONENTS:
        if _yaml(path)["type"] == "parallel":
            continue  # planned by mlops.local.parallel inside a pipeline (test_parallel.py)
        azure = aml.load_component(source=path)
        local = load_component(path)
        assert {n: i.type for n, i in azure.inputs.items()} == {
            n: i.type for n, i in local.inputs.items()
        }, path.name
        assert {n: o.type for n, o in azure.outputs.items()} == {
            n: o.type for n, o in local.outputs.items()
        }, path.name


def test_data_asset(aml: Any) -> None:
    data = aml.load_data(source=TRAIN / "data.yml")
    assert (data.name, data.type) == ("taxi-fare-raw", "uri_folder")
    assert Path(data.path) == ROOT / "data" / "sample"


def test_training_environment(aml: Any) -> None:
    env = aml.load_environment(source=TRAIN / "train-env.yml")
    assert env.name == "taxi-fare-train-env"
    ubuntu = re.search(r"ubuntu(\d+)\.(\d+)", env.image)
    assert ubuntu is not None and (int(ubuntu[1]), int(ubuntu[2])) >= (22, 4), env.image
    conda = (ROOT / "data-science" / "environment" / "train-conda.yml").read_text()
    assert env.conda_file == yaml.safe_load(conda)
    assert "git+" not in conda
    pip = next(d["pip"] for d in env.conda_file["dependencies"] if isinstance(d, dict))
    names = {re.split(r"==", line)[0].lower() for line in pip}
    assert {"mlflow", "azureml-mlflow", "scikit-learn", "flaml", "lightgbm", "pandas"} <= names


# Negative cases: the checks above can fail.


def _broken_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "train"
    shutil.copytree(TRAIN / "components", folder / "components")
    for spec in (folder / "components").glob("*.yml"):
        spec.write_text(spec.read_text().replace("../../../../data-science/src", str(CODE)))
    return folder


def test_a_missing_required_input_fails_validation(aml: Any, tmp_path: Path) -> None:
    folder = _broken_copy(tmp_path)
    text = (TRAIN / "pipeline.yml").read_text()
    broken = text.replace("      test_data: ${{parent.jobs.prep.outputs.test_data}}\n", "")
    assert broken != text
    (folder / "pipeline.yml").write_text(broken)
    result = aml.load_job(source=folder / "pipeline.yml")._validate()
    assert not result.passed
    assert "jobs.evaluate.inputs.test_data" in result.error_messages


def test_an_unknown_input_type_fails_to_load(aml: Any, tmp_path: Path) -> None:
    from azure.ai.ml.exceptions import ValidationException
    from marshmallow import ValidationError

    folder = _broken_copy(tmp_path)
    spec = folder / "components" / "prep.yml"
    spec.write_text(spec.read_text().replace("type: number", "type: nmber", 1))
    with pytest.raises((ValidationError, ValidationException), match="nmber"):
        aml.load_component(source=spec)


def test_a_misspelt_output_binding_is_caught_by_the_local_loader(tmp_path: Path) -> None:
    from mlops.errors import MlopsError
    from mlops.local.pipeline import load_pipeline

    folder = _broken_copy(tmp_path)
    text = (TRAIN / "pipeline.yml").read_text()
    (folder / "pipeline.yml").write_text(text.replace("outputs.test_data}}", "outputs.test_dta}}"))
    with pytest.raises(MlopsError, match="job 'prep' has no output 'test_dta'"):
        load_pipeline(folder / "pipeline.yml")
