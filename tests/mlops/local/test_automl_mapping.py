"""The Azure AutoML node -> FLAML stand-in mapping: every setting mapped, ignored or refused."""

from __future__ import annotations

from typing import Any

import pytest

from mlops.errors import MlopsError
from mlops.local.automl import map_automl_node

WHERE = "pipeline-automl.yml: job 'train'"


def node(**extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "type": "automl",
        "task": "regression",
        "training_data": "${{parent.jobs.prep.outputs.train_data}}",
        "target_column_name": "cost",
        "primary_metric": "normalized_root_mean_squared_error",
        "limits": {"timeout_minutes": 30, "max_trials": 40, "max_concurrent_trials": 4},
        "training": {
            "allowed_training_algorithms": ["LightGBM", "RandomForest", "ExtremeRandomTrees"],
            "enable_stack_ensemble": False,
            "enable_vote_ensemble": False,
        },
        "outputs": {"best_model": {"type": "mlflow_model"}},
    }
    base.update(extra)
    return base


def test_maps_the_repository_node() -> None:
    mapped = map_automl_node(node(), WHERE)
    assert mapped.inputs == {
        "train_data": "${{parent.jobs.prep.outputs.train_data}}",
        "target_column_name": "cost",
        "primary_metric": "normalized_root_mean_squared_error",
        "time_budget_seconds": 1800,
        "max_trials": 40,
        "allowed_algorithms": "LightGBM,RandomForest,ExtremeRandomTrees",
        "enable_vote_ensemble": False,
    }
    assert mapped.outputs == {"best_model": "model_output"}


@pytest.mark.parametrize(
    ("training", "expected"),
    [
        ({"enable_vote_ensemble": True}, True),
        ({"enable_vote_ensemble": "false"}, False),
        ({}, True),
    ],
    ids=["on", "off-as-text", "azure-default-on"],
)
def test_the_vote_ensemble_setting_is_mapped(training: dict[str, Any], expected: bool) -> None:
    mapped = map_automl_node(node(training=training), WHERE)
    assert mapped.inputs["enable_vote_ensemble"] is expected


def test_a_vote_ensemble_setting_that_is_not_a_boolean_is_refused() -> None:
    with pytest.raises(MlopsError, match=r"'training\.enable_vote_ensemble: maybe' is not true or"):
        map_automl_node(node(training={"enable_vote_ensemble": "maybe"}), WHERE)


def test_time_budget_overrides_the_node_timeout() -> None:
    assert (
        map_automl_node(node(), WHERE, time_budget_seconds=30).inputs["time_budget_seconds"] == 30
    )


def test_fractional_timeout_minutes_become_seconds() -> None:
    settings = node(limits={"timeout_minutes": 0.5})
    assert map_automl_node(settings, WHERE).inputs["time_budget_seconds"] == 30


@pytest.mark.parametrize(
    ("spelling", "canonical"),
    [
        ("NormalizedRootMeanSquaredError", "normalized_root_mean_squared_error"),
        ("R2Score", "r2_score"),
        ("spearman_correlation", "spearman_correlation"),
    ],
)
def test_primary_metric_in_either_case(spelling: str, canonical: str) -> None:
    assert map_automl_node(node(primary_metric=spelling), WHERE).inputs["primary_metric"] == (
        canonical
    )


def test_algorithm_names_in_snake_case_are_canonicalised() -> None:
    settings = node(training={"allowed_training_algorithms": ["light_gbm", "random_forest"]})
    mapped = map_automl_node(settings, WHERE)
    assert mapped.inputs["allowed_algorithms"] == "LightGBM,RandomForest"


def test_compute_only_settings_are_ignored_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="mlops.local.automl")
    mapped = map_automl_node(node(compute="azureml:gpu", tags={"a": "b"}), WHERE)
    assert "compute" not in mapped.inputs
    assert "'compute' only applies on Azure ML" in caplog.text
    assert "'limits.max_concurrent_trials' only applies on Azure ML" in caplog.text


def test_no_outputs_still_exposes_best_model() -> None:
    settings = node()
    del settings["outputs"]
    assert map_automl_node(settings, WHERE).outputs == {"best_model": "model_output"}


# Settings the stand-in cannot honour are errors that name the setting.


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            node(featurization={"mode": "auto"}),
            "AutoML setting 'featurization.mode: auto' has no local equivalent",
        ),
        (node(n_cross_validations=5), "AutoML setting 'n_cross_validations' has no local"),
        (
            node(limits={"timeout_minutes": 5, "trial_timeout_minutes": 1}),
            "AutoML setting 'limits.trial_timeout_minutes' has no local",
        ),
        (
            node(training={"enable_stack_ensemble": True}),
            "'training.enable_stack_ensemble: True' has no local equivalent",
        ),
        (
            node(training={"blocked_training_algorithms": ["KNN"]}),
            "'training.blocked_training_algorithms' has no local",
        ),
        (
            node(training={"allowed_training_algorithms": ["Prophet"]}),
            "unknown AutoML regression algorithm 'Prophet'",
        ),
        (
            node(training={"allowed_training_algorithms": ["LightGBM", "KNN"]}),
            "AutoML algorithm 'KNN' has no local \\(FLAML\\) equivalent; supported locally: "
            "LightGBM, RandomForest, ExtremeRandomTrees, GradientBoosting",
        ),
        (node(task="classification"), "AutoML task 'classification' has no local equivalent"),
        (node(outputs={"best_model": {}, "scores": {}}), "AutoML output 'scores'"),
    ],
    ids=[
        "featurization",
        "cross-validation",
        "trial-timeout",
        "stack-ensemble-on",
        "blocked-algorithms",
        "unknown-algorithm",
        "no-flaml-equivalent",
        "task",
        "extra-output",
    ],
)
def test_unmappable_settings_are_refused(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(MlopsError, match=message) as raised:
        map_automl_node(settings, WHERE)
    assert str(raised.value).startswith(WHERE)


def test_training_data_is_required() -> None:
    settings = node()
    del settings["training_data"]
    with pytest.raises(MlopsError, match="AutoML node needs 'training_data'"):
        map_automl_node(settings, WHERE)


@pytest.mark.parametrize("algorithm", ["LightGBM", "RandomForest", "KNN", "XGBoostRegressor"])
def test_the_node_mapping_refuses_exactly_what_train_py_cannot_run(algorithm: str) -> None:
    """One algorithm table (taxi_fare.automl) decides both the mapping and train.py."""
    from taxi_fare.automl import AZURE_REGRESSION_MODELS, flaml_estimators
    from taxi_fare.models import ModelError

    import mlops.local.automl as mapping

    assert not hasattr(mapping, "AZURE_REGRESSION_MODELS")  # no second copy to drift
    settings = node(training={"allowed_training_algorithms": [algorithm]})
    learner = AZURE_REGRESSION_MODELS[algorithm]
    if learner is None:
        with pytest.raises(MlopsError, match="has no local \\(FLAML\\) equivalent"):
            map_automl_node(settings, WHERE)
        with pytest.raises(ModelError, match="has no local \\(FLAML\\) equivalent"):
            flaml_estimators(algorithm)
    else:
        mapped = map_automl_node(settings, WHERE).inputs["allowed_algorithms"]
        assert flaml_estimators(mapped) == [learner]
