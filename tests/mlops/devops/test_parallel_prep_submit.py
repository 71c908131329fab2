"""dev-model-training.yml's prep=parallel run (issue 21): it submits pipeline-parallel-prep.yml
with the parallel job's scale from config-infra-dev.yml and the RandomForest's sample size,
refuses AutoML, and `mlops validate` compiles that non-default branch."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlops.ado.expand import Expander
from mlops.checks import ado_compile
from mlops.checks.ado_model import discover
from mlops.settings import REPO_ROOT

PIPELINE = REPO_ROOT / "mlops/devops-pipelines/dev-model-training.yml"


def _find(node: Any, key: str) -> Iterator[Any]:
    if isinstance(node, dict):
        for name, value in node.items():
            if name == key:
                yield value
            yield from _find(value, key)
    elif isinstance(node, list):
        for item in node:
            yield from _find(item, key)


def submit_env(parameters: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """The compiled submit step's env, and the display names of the train job's steps."""
    compiled = Expander(REPO_ROOT).compile(PIPELINE, parameters)
    env = next(
        e for e in _find(compiled.doc, "env") if isinstance(e, dict) and "SET_OVERRIDES" in e
    )
    names = [n for n in _find(compiled.doc, "displayName") if isinstance(n, str)]
    return env, names


def test_parallel_prep_submits_the_variant_with_the_config_scale() -> None:
    from azure.ai.ml import load_job

    env, names = submit_env(
        {"trainer": "random_forest", "prep": "parallel", "maxTrainRows": "500000"}
    )
    assert env["SPEC"] == "mlops/azureml/train/pipeline-parallel-prep.yml"
    assert not [n for n in names if n.startswith("Refuse")]
    config = yaml.safe_load((REPO_ROOT / "config-infra-dev.yml").read_text())["variables"]
    sets = dict(item.split("=", 1) for item in env["SET_OVERRIDES"].split())
    assert sets == {
        "jobs.prep_files.mini_batch_size": str(config["prep_mini_batch_size"]),
        "jobs.prep_files.resources.instance_count": str(config["prep_instance_count"]),
        "jobs.prep_files.max_concurrency_per_instance": str(
            config["prep_max_concurrency_per_instance"]
        ),
        "inputs.max_train_rows": "500000",
    }
    # az ml job create --set is load_job's params_override, values as strings
    # (azure-cli-extensions ml custom/job.py:ml_job_create; mlops/ado/az/cli.py:_job_create).
    job = load_job(REPO_ROOT / env["SPEC"], params_override=[{k: v} for k, v in sets.items()])
    node = job.jobs["prep_files"]
    assert node.mini_batch_size == int(config["prep_mini_batch_size"])
    assert node.resources.instance_count == int(config["prep_instance_count"])
    assert node.max_concurrency_per_instance == int(config["prep_max_concurrency_per_instance"])
    assert node.error_threshold == 0


@pytest.mark.parametrize(
    ("parameters", "spec"),
    [
        ({}, "mlops/azureml/train/pipeline-automl.yml"),
        ({"trainer": "random_forest"}, "mlops/azureml/train/pipeline.yml"),
    ],
)
def test_single_node_prep_is_the_default(parameters: dict[str, str], spec: str) -> None:
    env, _ = submit_env(parameters)
    assert env["SPEC"] == spec and env["SET_OVERRIDES"] == ""


def test_parallel_prep_with_automl_fails_first_naming_the_fix() -> None:
    compiled = Expander(REPO_ROOT).compile(PIPELINE, {"prep": "parallel"})
    train = next(j for j in _find(compiled.doc, "jobs") if isinstance(j, list))[0]
    first = train["steps"][0]
    assert first["displayName"] == "Refuse prep=parallel with trainer=automl"
    assert "needs trainer=random_forest" in first["bash"] and "exit 1" in first["bash"]


def test_validate_compiles_each_listed_parameter_value(tmp_path: Path) -> None:
    """A mistake only a non-default choice reaches is still an ado-compile finding."""
    folder = tmp_path / "mlops" / "devops-pipelines"
    folder.mkdir(parents=True)
    (folder / "p.yml").write_text(
        "trigger: none\nparameters:\n  - name: prep\n    default: single\n"
        "    values: [single, parallel]\nsteps:\n"
        "  - ${{ if eq(parameters.prep, 'parallel') }}:\n"
        "      - bash: echo ${{ format('{0}{1}', parameters.prep) }}\n",
        encoding="utf-8",
    )
    findings = ado_compile.check(discover(tmp_path), set())
    assert [str(f) for f in findings] == [
        "mlops/devops-pipelines/p.yml:8: ado-compile: format: no argument {1} in '{0}{1}'"
        " (with prep=parallel)"
    ]
