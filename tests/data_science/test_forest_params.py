"""The RandomForest defaults are stated once (taxi_fare.forest_params); everything else agrees."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from taxi_fare.forest_params import RF_DEFAULTS
from taxi_fare.models import random_forest_pipeline

ROOT = Path(__file__).resolve().parents[2]
TRAIN = ROOT / "mlops/azureml/train"
HYPERPARAMETERS = ("n_estimators", "max_depth", "min_samples_leaf", "min_samples_split",
                   "max_features")  # fmt: skip


def test_the_pipeline_builds_the_defaults() -> None:
    forest = random_forest_pipeline().named_steps["model"]
    params = forest.get_params()
    assert {k: params[k] for k in HYPERPARAMETERS} == {
        k: getattr(RF_DEFAULTS, k) for k in HYPERPARAMETERS
    }
    assert params["random_state"] == RF_DEFAULTS.seed


def test_train2_arguments_default_to_them() -> None:
    import train2  # data-science/src is on the test path (pyproject.toml)

    args = train2.parse_args(["--train_data", "t", "--model_output", "m"])
    assert {k: getattr(args, k) for k in (*HYPERPARAMETERS, "seed")} == RF_DEFAULTS.to_dict()


@pytest.mark.parametrize(
    ("spec", "section"),
    [
        ("components/train2.yml", "component"),
        ("pipeline.yml", "pipeline"),
        ("pipeline-parallel-prep.yml", "pipeline"),
    ],
)
def test_the_azure_ml_specs_repeat_them(spec: str, section: str) -> None:
    inputs = yaml.safe_load((TRAIN / spec).read_text())["inputs"]
    found = {k: inputs[k]["default"] if section == "component" else inputs[k]
             for k in (*HYPERPARAMETERS, "seed")}  # fmt: skip
    assert found == RF_DEFAULTS.to_dict(), f"{spec} disagrees with taxi_fare.forest_params"
