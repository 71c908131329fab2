"""pipeline-automl.yml wires the packaged AutoML model, in the AutoML runtime, downstream.

featurize -> AutoML node -> package -> evaluate/register: evaluate and register must take
package's model (20-column signature), never the node's best_model (derived columns,
AutoML runtime), and run where that runtime is. The local mapping of the node agrees.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from mlops.errors import MlopsError
from mlops.local.automl import map_automl_node

ROOT = Path(__file__).resolve().parents[3]
TRAIN = ROOT / "mlops" / "azureml" / "train"
AUTOML_ENV = "azureml:taxi-fare-automl-env@latest"
PACKAGED = "${{parent.jobs.package.outputs.model_output}}"


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def wiring_problems(pipeline: dict[str, Any]) -> list[str]:
    """What is wrong with how an AutoML pipeline hands its model on (empty: nothing)."""
    jobs = pipeline["jobs"]
    automl = [name for name, job in jobs.items() if job.get("type") == "automl"]
    problems: list[str] = []
    if len(automl) != 1:
        return [f"expected one AutoML node, found {len(automl)}"]
    node = automl[0]
    best = f"${{{{parent.jobs.{node}.outputs.best_model}}}}"
    if jobs[node].get("training_data") != "${{parent.jobs.featurize.outputs.features_data}}":
        problems.append(f"{node}: training_data is not featurize's features_data")
    if str(jobs[node].get("featurization", {}).get("mode")).lower() not in ("off", "false"):
        problems.append(f"{node}: featurization.mode is not off")
    package = jobs.get("package", {})
    if package.get("inputs", {}).get("best_model") != best:
        problems.append(f"package: best_model is not {best}")
    component = _yaml(TRAIN / package.get("component", "components/package.yml"))
    if component.get("environment") != AUTOML_ENV:
        problems.append(f"package: component environment is not {AUTOML_ENV}")
    for name, job in jobs.items():
        if best in (job.get("inputs") or {}).values() and name != "package":
            problems.append(f"{name}: takes the AutoML best_model, not the packaged model")
    for name in ("evaluate", "register"):
        job = jobs.get(name, {})
        if job.get("inputs", {}).get("model_input") != PACKAGED:
            problems.append(f"{name}: model_input is not {PACKAGED}")
        if job.get("environment") != AUTOML_ENV:
            problems.append(f"{name}: environment is not {AUTOML_ENV}")
    return problems


def test_the_packaged_model_and_the_automl_runtime_are_wired() -> None:
    assert wiring_problems(_yaml(TRAIN / "pipeline-automl.yml")) == []


@pytest.mark.parametrize(
    ("job", "key", "value", "problem"),
    [
        (
            "evaluate",
            "inputs.model_input",
            "${{parent.jobs.train.outputs.best_model}}",
            "evaluate: takes the AutoML best_model, not the packaged model",
        ),
        (
            "register",
            "environment",
            "azureml:taxi-fare-train-env@latest",
            "register: environment is not azureml:taxi-fare-automl-env@latest",
        ),
        (
            "train",
            "training_data",
            "${{parent.jobs.prep.outputs.train_data}}",
            "train: training_data is not featurize's features_data",
        ),
        ("train", "featurization.mode", "auto", "train: featurization.mode is not off"),
    ],
)
def test_a_miswired_pipeline_is_caught(job: str, key: str, value: str, problem: str) -> None:
    pipeline = _yaml(TRAIN / "pipeline-automl.yml")
    target = pipeline["jobs"][job]
    *parents, last = key.split(".")
    for part in parents:
        target = target[part]
    target[last] = value
    assert problem in wiring_problems(pipeline)


def test_the_automl_environment_is_the_curated_automl_image(tmp_path: Path) -> None:
    import azure.ai.ml as aml

    env = aml.load_environment(source=TRAIN / "automl-env.yml")
    assert env.name == "taxi-fare-automl-env"
    assert env.image.startswith("mcr.microsoft.com/azureml/curated/ai-ml-automl:")
    # A conda file would build a fresh environment without the image's AutoML runtime.
    assert env.conda_file is None


def test_concurrent_trials_fit_the_training_cluster() -> None:
    limits = _yaml(TRAIN / "pipeline-automl.yml")["jobs"]["train"]["limits"]
    nodes = _yaml(ROOT / "config-infra-dev.yml")["variables"]["compute_max_instances"]
    assert 1 <= limits["max_concurrent_trials"] <= int(nodes)


def test_the_node_maps_onto_the_local_stand_in() -> None:
    node = _yaml(TRAIN / "pipeline-automl.yml")["jobs"]["train"]
    stand_in = map_automl_node(node, "pipeline-automl.yml: job 'train'", time_budget_seconds=60)
    assert stand_in.inputs["train_data"] == "${{parent.jobs.featurize.outputs.features_data}}"
    assert stand_in.inputs["max_trials"] == node["limits"]["max_trials"]
    assert stand_in.inputs["time_budget_seconds"] == 60
    assert stand_in.outputs == {"best_model": "model_output"}


def test_automl_featurization_has_no_local_equivalent() -> None:
    node = {
        **_yaml(TRAIN / "pipeline-automl.yml")["jobs"]["train"],
        "featurization": {"mode": "auto"},
    }
    with pytest.raises(MlopsError, match=r"'featurization.mode: auto' has no local equivalent"):
        map_automl_node(node, "job 'train'")


def test_an_automl_release_deploys_the_packaged_model_in_the_automl_runtime(
    tmp_path: Path,
) -> None:
    """register takes package's model; a release of it pins the AutoML runtime, which both
    deployments then run (online: mlops rollout azure, batch: create-deployment.yml)."""
    from mlops.registry import releases
    from mlops.registry.pins import deploy_pins

    register = _yaml(TRAIN / "pipeline-automl.yml")["jobs"]["register"]
    assert (
        register["inputs"]["model_input"] == PACKAGED and register["inputs"]["trainer"] == "automl"
    )
    env_name = releases.TRAINER_ENVIRONMENTS[register["inputs"]["trainer"]]
    assert f"azureml:{env_name}@latest" == AUTOML_ENV  # the runtime evaluate loaded it in
    spec = _yaml(releases.environment_spec(env_name))
    assert spec["image"].startswith("mcr.microsoft.com/azureml/curated/ai-ml-automl:")
    (tmp_path / "stage.yml").write_text(
        "model: {name: taxi-fare, version: 3, registry: mlr-taxifare-0001}\n"
        f"environment: {{name: {env_name}, version: {spec['version']}}}\n"
        f"code: {{commit: {'a' * 40}}}\n"
        "rollout: {steps: [100], latency_ms: 500}\n"
    )
    release = releases.load_release("stage", tmp_path)
    releases.check_environment_follows_trainer(release, {"trainer": "automl"}, "registry")
    assert deploy_pins(release).environment_uri == (
        f"azureml://registries/mlr-taxifare-0001/environments/{env_name}/versions/{spec['version']}"
    )
    batch = (ROOT / "mlops/devops-pipelines/templates/create-deployment.yml").read_text()
    assert '"environment=$ENVIRONMENT_URI"' in batch
    online = (ROOT / "mlops/endpoints/commands.py").read_text()
    assert "environment=pins.environment_uri" in online
