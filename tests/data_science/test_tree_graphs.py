"""The AutoML winners on ONNX Runtime: LightGBM, HistGradientBoosting and the vote ensemble.

Each compiled model must give the model's own ``predict`` bit for bit, so the tests compare
against the fitted sklearn Pipeline, never against fixed numbers; what the graph cannot
reproduce must be refused by name and left to the model's own library.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import score
from lightgbm import LGBMRegressor
from sklearn.ensemble import (
    ExtraTreesRegressor,
    HistGradientBoostingRegressor,
    RandomForestRegressor,
    VotingRegressor,
)
from sklearn.linear_model import Ridge
from sklearn.pipeline import Pipeline
from taxi_fare.models import ModelError, pipeline_with, save_model
from taxi_fare.schema import FEATURES
from taxi_fare.serving.tree_graphs import member_of
from taxi_fare.serving.tree_runtime import CompiledPipeline, compiled_predictor

from tests.data_science.test_fast_scoring import trips


def lgbm(**params: object) -> LGBMRegressor:
    settings = {"n_estimators": 25, "num_leaves": 15, "learning_rate": 0.2, "n_jobs": 1,
                "random_state": 0, "verbose": -1, **params}  # fmt: skip
    return LGBMRegressor(**settings)


def vote() -> VotingRegressor:
    """An ensemble shaped like AutoML's: each learner once, Caruana's integer weights."""
    return VotingRegressor(
        [
            ("extra_tree", ExtraTreesRegressor(n_estimators=7, max_leaf_nodes=40, random_state=1)),
            ("lgbm", lgbm()),
            ("rf", RandomForestRegressor(n_estimators=5, max_leaf_nodes=30, random_state=2)),
            ("histgb", HistGradientBoostingRegressor(max_iter=15, random_state=3)),
        ],
        weights=[9, 4, 1, 2],
    )


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, pd.Series]:
    return trips(500, seed=5)


@pytest.fixture(scope="module")
def queries() -> pd.DataFrame:
    return trips(300, seed=17)[0]


def assert_compiled_equal(pipe: Pipeline, queries: pd.DataFrame) -> CompiledPipeline:
    fast = compiled_predictor(pipe)
    assert isinstance(fast, CompiledPipeline)
    expected = pipe.predict(queries)
    np.testing.assert_array_equal(fast.predict(queries), expected)
    np.testing.assert_array_equal(fast.predict_features(queries.to_numpy()), expected)
    rows = queries.to_numpy().tolist()
    assert [fast.predict_row(row) for row in rows] == expected.tolist()
    return fast


@pytest.mark.parametrize(
    "model",
    [lgbm(), lgbm(objective="regression_l1"), HistGradientBoostingRegressor(max_iter=20)],
    ids=["lgbm", "lgbm-l1", "histgb"],
)
def test_a_boosted_winner_equals_its_library(
    model: object, data: tuple[pd.DataFrame, pd.Series], queries: pd.DataFrame
) -> None:
    pipe = pipeline_with(model).fit(*data)
    fast = assert_compiled_equal(pipe, queries)
    assert fast.trees.trees > 1


def test_a_lightgbm_tree_of_one_leaf_compiles(data: tuple[pd.DataFrame, pd.Series]) -> None:
    X, _ = data  # noqa: N806
    constant = pd.Series(np.full(len(X), 4.5))
    pipe = pipeline_with(lgbm(n_estimators=3)).fit(X, constant)
    fast = compiled_predictor(pipe)
    assert fast is not None
    np.testing.assert_array_equal(fast.predict(X), pipe.predict(X))


def test_the_vote_ensemble_equals_sklearn(
    data: tuple[pd.DataFrame, pd.Series], queries: pd.DataFrame
) -> None:
    pipe = pipeline_with(vote()).fit(*data)
    fast = assert_compiled_equal(pipe, queries)
    assert fast.trees.kinds == [
        "ExtraTreesRegressor", "LGBMRegressor", "RandomForestRegressor",
        "HistGradientBoostingRegressor",
    ]  # fmt: skip
    assert fast.trees.weights == [9, 4, 1, 2]
    unweighted = pipeline_with(VotingRegressor([("a", lgbm()), ("b", lgbm(num_leaves=7))]))
    assert_compiled_equal(unweighted.fit(*data), queries)


def test_what_the_graph_cannot_reproduce_is_refused(data: tuple[pd.DataFrame, pd.Series]) -> None:
    X, y = data  # noqa: N806
    refused = {
        "objective 'poisson' is not an identity output": lgbm(objective="poisson"),
        "treats zero as missing": lgbm(zero_as_missing=True),
        "loss 'poisson' is not an identity link": HistGradientBoostingRegressor(
            loss="poisson", max_iter=5
        ),
        "no graph for Ridge": Ridge(),
        "fitted LGBMRegressor": lgbm(),  # never fitted
    }
    derived = pipeline_with(Ridge()).fit(X, y).steps[0][1].transform(X)
    positive = y.abs() + 1.0
    for message, model in refused.items():
        if message != "fitted LGBMRegressor":
            model.fit(derived, positive)
        with pytest.raises(ModelError, match=message):
            member_of(model)
    # In a pipeline the same models are served by their own library, not refused.
    for model in (lgbm(objective="poisson"), lgbm(zero_as_missing=True)):
        assert compiled_predictor(pipeline_with(model).fit(X, positive)) is None
    with_ridge = VotingRegressor([("lgbm", lgbm()), ("ridge", Ridge())])
    assert compiled_predictor(pipeline_with(with_ridge).fit(X, y)) is None


def test_categorical_histgb_is_refused(data: tuple[pd.DataFrame, pd.Series]) -> None:
    X, y = data  # noqa: N806
    derived = pipeline_with(Ridge()).fit(X, y).steps[0][1].transform(X)
    categorical = HistGradientBoostingRegressor(
        max_iter=5, categorical_features=[list(derived.columns).index("passengers")]
    )
    derived = derived.assign(passengers=derived["passengers"].clip(0, 5))
    categorical.fit(derived, y)
    with pytest.raises(ModelError, match="categorical"):
        member_of(categorical)


def test_a_saved_automl_model_scores_on_onnx_runtime(
    tmp_path: Path, data: tuple[pd.DataFrame, pd.Series], queries: pd.DataFrame
) -> None:
    """The packaged AutoML model as train.py saves it: loaded online on the compiled graph,
    every answer the sklearn ensemble's own."""
    X, y = data  # noqa: N806
    pipe = pipeline_with(vote()).fit(X, y)
    save_model(pipe, tmp_path / "model", X, {"trainer": "automl"})
    model = score.load_scoring_model(tmp_path)
    assert isinstance(model.estimator, CompiledPipeline)
    expected = pipe.predict(queries.head(5))
    body = {"input_data": {"columns": list(FEATURES), "data": queries.head(5).to_numpy().tolist()}}
    assert score.score_body(json.dumps(body), model, 10) == expected.tolist()
    one = {"input_data": [dict(zip(FEATURES, queries.to_numpy()[2].tolist(), strict=True))]}
    assert score.score_body(json.dumps(one), model, 10) == [expected[2]]


@pytest.mark.parametrize("members", range(2, 8))
def test_the_one_row_vote_is_np_average(members: int) -> None:
    """predict_one weighs a single row in Python floats; it must be np.average's double,
    on awkward values too (signed zeros, magnitudes far apart, fractions)."""
    from taxi_fare.serving.tree_runtime import CompiledTrees

    rng = np.random.default_rng(members)
    rows = rng.normal(0, 1, (4000, members)) * 10.0 ** rng.integers(-8, 9, (4000, members))
    rows[:50] = 0.0
    rows[50:100] = -0.0
    weights = [int(w) for w in rng.integers(1, 20, members)]
    expected = np.average(rows, axis=1, weights=weights)
    compiled = CompiledTrees.__new__(CompiledTrees)  # the combining step alone
    for weight_list in (weights, None):
        compiled.weights = weight_list
        compiled.members = [None] * members  # type: ignore[list-item]
        want = expected if weight_list else np.average(rows, axis=1)
        got = [compiled.combine_one(row) for row in rows.tolist()]
        np.testing.assert_array_equal(np.array(got), want)
        assert [np.signbit(g) for g in got[50:100]] == [np.signbit(w) for w in want[50:100]]


def test_float32_splits_decide_as_the_float32_cast() -> None:
    """``x <= float32_splits(t)`` must be ``float32(x) <= t`` for every double ``x``: checked
    on the doubles around each rounding boundary (the midpoints, ties to even and odd),
    around the thresholds themselves, at signed zeros and in float32's subnormal range."""
    from taxi_fare.serving.tree_graphs import float32_splits

    rng = np.random.default_rng(11)
    f32 = rng.normal(0, 1, 3000).astype(np.float32) * np.float32(10.0) ** rng.integers(-6, 7, 3000)
    tiny = np.array([0.0, -0.0, 1e-45, -1e-45, 3e-45, 1.2e-38, -1.2e-38], dtype=np.float32)
    points = np.concatenate([f32, tiny]).astype(np.float64)
    up = np.nextafter(np.concatenate([f32, tiny]), np.float32(np.inf)).astype(np.float64)
    midpoints = (points + up) / 2.0
    # Thresholds as sklearn makes them (midpoints of float32 values, in double) and others.
    around = [np.nextafter(points, np.inf), np.nextafter(points, -np.inf)]
    thresholds = np.concatenate([midpoints, points, *around, rng.normal(0, 50, 500)])
    splits = float32_splits(thresholds)
    for x in (midpoints, np.nextafter(midpoints, np.inf), np.nextafter(midpoints, -np.inf),
              points, np.nextafter(points, np.inf), np.nextafter(points, -np.inf)):  # fmt: skip
        for shift in (0, 1, 7):  # each x against its own threshold and others'
            t, u = np.roll(thresholds, shift), np.roll(splits, shift)
            xs = np.resize(x, t.shape)
            want = xs.astype(np.float32) <= t
            got = xs <= u
            bad = np.flatnonzero(want != got)
            assert bad.size == 0, (xs[bad[:3]], t[bad[:3]], u[bad[:3]])


def test_float32_splits_refuse_thresholds_beyond_float32() -> None:
    from taxi_fare.serving.tree_graphs import float32_splits

    for bad in (3.5e38, -1e39, np.inf, np.nan):
        with pytest.raises(ModelError, match="beyond float32's range"):
            float32_splits(np.array([0.5, bad]))
