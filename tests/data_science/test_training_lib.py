"""The training library: reproducible AutoML search settings and the sampled train metrics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from taxi_fare.automl import search, search_settings
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


def test_trial_cap_makes_the_search_clock_free() -> None:
    capped = search_settings("rmse", ["lgbm", "rf"], 60, 8, seed=5)
    assert capped["time_budget"] == 60 and capped["max_iter"] == 8
    assert capped["learner_selector"] == "roundrobin" and capped["seed"] == 5
    timed = search_settings("rmse", ["lgbm"], 60, None, seed=5)
    assert timed["time_budget"] == 60
    assert "max_iter" not in timed and "learner_selector" not in timed


def test_same_seed_and_trial_cap_give_the_same_model(trips) -> None:
    X, y = trips  # noqa: N806
    learners = ["rf", "extra_tree"]  # two, so the choice of learner is part of the test
    first, second = (search(X, y, "rmse", learners, 60, 4, seed=1) for _ in range(2))
    assert first.trials == second.trials == 4
    assert (first.estimator, first.config) == (second.estimator, second.config)
    # Threaded tree averaging may round the last bit differently; the model is the same.
    assert first.best_loss == pytest.approx(second.best_loss, rel=1e-9)
    np.testing.assert_allclose(first.pipeline.predict(X), second.pipeline.predict(X), rtol=1e-9)


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


def test_a_search_cut_by_the_clock_says_it_may_differ(trips, caplog) -> None:
    X, y = trips  # noqa: N806
    with caplog.at_level("WARNING", logger="taxi_fare.automl"):
        result = search(X, y, "rmse", ["rf", "extra_tree"], 1, 10_000, seed=1)
    assert result.trials < 10_000
    assert "time budget ended the search after" in caplog.text
    assert "of 10000 trials; a rerun may differ" in caplog.text
