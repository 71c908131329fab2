"""The training library: reproducible AutoML search settings and the sampled train metrics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from taxi_fare.automl import (
    FOREST_TREES,
    MIN_TRIALS,
    ensemble_selection,
    forest_start,
    holdout_rows,
    lgbm_start,
    logged_trials,
    planned_trials,
    search,
    search_settings,
    validation_loss,
    vote_candidates,
)
from taxi_fare.features import DerivedFeatures
from taxi_fare.metrics import fit_metrics, regression_metrics
from taxi_fare.schema import FEATURES


@pytest.fixture(scope="module")
def trips() -> tuple[pd.DataFrame, pd.Series]:
    """300 synthetic trips: cost grows with distance, plus seeded noise."""
    rng = np.random.default_rng(3)
    rows = 300
    X = pd.DataFrame({name: rng.uniform(0, 1, rows) for name in FEATURES})  # noqa: N806
    X["pickup_latitude"] = X["dropoff_latitude"] = 40.75 + X["pickup_latitude"] / 10
    X["pickup_longitude"] = X["dropoff_longitude"] = -73.95 + X["pickup_longitude"] / 10
    X["distance"] = rng.uniform(0.5, 10, rows)
    X["pickup_hour"], X["dropoff_hour"] = 10.0, 10.0
    X["pickup_minute"], X["dropoff_minute"] = 0.0, 30.0
    for part in ("weekday", "month", "monthday"):
        X[f"dropoff_{part}"] = X[f"pickup_{part}"] = 1.0
    y = pd.Series(3.0 + 2.5 * X["distance"] + rng.normal(0, 0.5, rows), name="cost")
    return X, y


def test_the_search_runs_without_a_clock() -> None:
    settings = search_settings("rmse", ["lgbm", "rf"], 8, seed=5)
    assert settings["time_budget"] == -1 and settings["max_iter"] == 8
    assert settings["eval_method"] == "holdout" and settings["seed"] == 5
    assert settings["n_jobs"] == 1


def test_forests_start_with_leaves_the_data_can_fill() -> None:
    assert forest_start(33_718) == {"n_estimators": 8, "max_features": 1.0, "max_leaves": 256}
    assert forest_start(1_000)["max_leaves"] == 15  # one leaf per 64 rows
    assert forest_start(100)["max_leaves"] == 4  # FLAML's own lower bound
    starts = search_settings("rmse", ["lgbm", "extra_tree"], 8, seed=1, rows=1_000)
    assert set(starts["starting_points"]) == {"extra_tree", "lgbm"}
    assert starts["starting_points"]["lgbm"] == lgbm_start(1_000)
    assert lgbm_start(33_718) == {"n_estimators": 100, "num_leaves": 15, "learning_rate": 0.1}
    assert lgbm_start(300) == {"n_estimators": 100, "num_leaves": 4, "learning_rate": 0.1}
    assert lgbm_start(50)["n_estimators"] == 50  # FLAML's upper bound: the row count
    # A learner not searched gets no starting point (FLAML refuses unknown estimators).
    only_forest = search_settings("rmse", ["rf"], 8, seed=1, rows=1_000)
    assert set(only_forest["starting_points"]) == {"rf"}


def test_trials_are_planned_from_budget_and_rows_only() -> None:
    assert planned_trials(60, 34_000) == planned_trials(60, 34_000)
    assert planned_trials(120, 34_000) > planned_trials(60, 34_000) > planned_trials(60, 300_000)
    assert planned_trials(1, 10_000_000) == MIN_TRIALS  # never fewer than every learner's start
    assert planned_trials(600, 1_000, max_trials=12) == 12  # the node's limits.max_trials caps
    assert planned_trials(1, 1_000, max_trials=3) == 3


def test_same_seed_and_trials_give_the_same_model(trips) -> None:
    X, y = trips  # noqa: N806
    derived = DerivedFeatures().fit(X).transform(X)
    learners = ["rf", "extra_tree"]  # two, so the choice of learner is part of the test
    first, second = (search(derived, y, "rmse", learners, 6, seed=1) for _ in range(2))
    assert first.trials == second.trials == 6
    assert (first.estimator, first.config) == (second.estimator, second.config)
    # Threaded tree averaging may round the last bit differently; the model is the same.
    assert first.best_loss == pytest.approx(second.best_loss, rel=1e-9)
    np.testing.assert_allclose(first.model.predict(derived), second.model.predict(derived))
    assert first.model.n_estimators >= FOREST_TREES  # a forest winner is refitted bigger


def test_the_vote_ensemble_is_the_same_model_on_a_rerun(trips) -> None:
    X, y = trips  # noqa: N806
    derived = DerivedFeatures().fit(X).transform(X)
    learners = ["lgbm", "extra_tree"]
    first, second = (
        search(derived, y, "rmse", learners, 8, seed=2, vote_ensemble=True) for _ in range(2)
    )
    assert first.weights == second.weights and sum(first.weights.values()) >= 1
    np.testing.assert_allclose(first.model.predict(derived), second.model.predict(derived))
    if len(first.weights) > 1:  # a vote: weights as chosen, members refitted on every row
        assert first.estimator == "VotingEnsemble"
        assert list(first.model.weights) == list(first.weights.values())
    assert first.final_loss == pytest.approx(second.final_loss, rel=1e-9)


def test_vote_candidates_are_each_learners_best_trials(tmp_path) -> None:
    """FLAML's trial log (one JSON line a trial, then a summary) -> the k best per learner."""
    import json

    lines = [
        {"record_id": 0, "learner": "lgbm", "validation_loss": 2.5, "config": {"n": 1}},
        {"record_id": 1, "learner": "rf", "validation_loss": 2.4, "config": {"n": 2}},
        {"record_id": 2, "learner": "lgbm", "validation_loss": 2.2, "config": {"n": 3}},
        {"record_id": 3, "learner": "lgbm", "validation_loss": 2.5, "config": {"n": 4}},
        {"record_id": 4, "learner": "lgbm", "validation_loss": 2.2, "config": {"n": 3}},
        {"record_id": 5, "learner": "lgbm", "validation_loss": float("inf"), "config": {"n": 5}},
        {"curr_best_record_id": 2},
    ]
    path = tmp_path / "trials.log"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    trials = logged_trials(path)
    assert [t[3] for t in trials] == [0, 1, 2, 3, 4]  # no summary line, no failed trial
    # lgbm: n=3 (tried twice, counted once), then the 2.5 tie broken by trial order.
    assert vote_candidates(trials, ["lgbm", "rf", "extra_tree"], 3) == [
        ("lgbm", "lgbm", {"n": 3}),
        ("lgbm_2", "lgbm", {"n": 1}),
        ("lgbm_3", "lgbm", {"n": 4}),
        ("rf", "rf", {"n": 2}),
    ]
    assert vote_candidates(trials, ["rf", "lgbm"], 1) == [
        ("rf", "rf", {"n": 2}),
        ("lgbm", "lgbm", {"n": 3}),
    ]


def test_ensemble_selection_weights_the_complementary_models() -> None:
    actual = np.array([0.0, 0.0, 10.0, 10.0])
    high, low = actual + 1.0, actual - 1.0  # errors that cancel when averaged
    far = actual + 5.0
    assert ensemble_selection({"high": high, "low": low, "far": far}, actual, "rmse") == {
        "high": 1,
        "low": 1,
    }  # "far" is more than 5% worse than the best: not in the start, and adding it hurts
    # One model alone: nothing to add.
    assert ensemble_selection({"only": high}, actual, "rmse") == {"only": 1}
    # Unequal skill: the better one gets the larger weight.
    better, worse = actual + 1.0, actual - 3.0
    weights = ensemble_selection({"a": better, "b": worse}, actual, "rmse")
    assert weights["a"] > weights.get("b", 0)


def test_validation_loss_follows_the_search_metric() -> None:
    actual, predicted = np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 6.0])
    assert validation_loss("rmse", actual, predicted) == pytest.approx(3 / np.sqrt(3))
    assert validation_loss("mae", actual, predicted) == pytest.approx(1.0)
    assert validation_loss("r2", actual, predicted) == pytest.approx(9 / 2)  # 1 - r2


def test_the_holdout_is_seeded_and_disjoint() -> None:
    fit, held = holdout_rows(1_000, seed=3)
    assert len(held) == 100 and len(fit) == 900 and not set(fit) & set(held)
    again = holdout_rows(1_000, seed=3)
    assert (again[0] == fit).all() and (again[1] == held).all()
    assert not (holdout_rows(1_000, seed=4)[1] == held).all()


class _Echo:
    """A 'model' that predicts the distance: its metrics are known row by row."""

    def __init__(self) -> None:
        self.rows_seen = 0

    def predict(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        self.rows_seen += len(X)
        return X["distance"].to_numpy()


def test_fit_metrics_scores_a_seeded_sample(trips) -> None:
    X, y = trips  # noqa: N806
    model = _Echo()
    metrics, rows = fit_metrics(model, X, y, max_rows=100, seed=9)
    assert rows == 100 and model.rows_seen == 100
    again, _ = fit_metrics(_Echo(), X, y, max_rows=100, seed=9)
    assert again == metrics
    everything = regression_metrics(y.to_numpy(), X["distance"].to_numpy())
    assert metrics != everything  # a sample, not all rows
    assert fit_metrics(_Echo(), X, y, max_rows=1_000)[0] == everything
    assert fit_metrics(_Echo(), X, y, max_rows=1_000)[1] == len(X)
