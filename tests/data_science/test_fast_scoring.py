"""Prediction speed paths: the ONNX Runtime forest, one-row features in plain floats, numpy
derived features, older models, scoring load.

Each fast path must give sklearn's own answer, so the tests compare against the plain
sklearn Pipeline rather than against fixed numbers, bit for bit.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import score
from sklearn.ensemble import ExtraTreesRegressor, RandomForestRegressor
from sklearn.linear_model import Ridge
from sklearn.pipeline import Pipeline
from taxi_fare.features import DerivedFeatures, FeatureSchemaError, derive
from taxi_fare.models import ModelError, pipeline_with, random_forest_pipeline, save_model
from taxi_fare.schema import FEATURES
from taxi_fare.serving.one_row import derived_row
from taxi_fare.serving.tree_graphs import sklearn_forest
from taxi_fare.serving.tree_runtime import (
    CompiledPipeline,
    CompiledTrees,
    compiled_predictor,
)


def trips(rows: int, seed: int) -> tuple[pd.DataFrame, pd.Series]:
    """Plausible trips in the 20-feature layout and a cost that depends on them."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({name: rng.integers(0, 7, rows).astype("float64") for name in FEATURES})
    frame["distance"] = rng.gamma(2.0, 1.6, rows)
    for side in ("pickup", "dropoff"):
        frame[f"{side}_latitude"] = rng.uniform(40.60, 40.85, rows)
        frame[f"{side}_longitude"] = rng.uniform(-74.02, -73.80, rows)
        frame[f"{side}_hour"] = rng.integers(0, 24, rows).astype("float64")
        frame[f"{side}_minute"] = rng.integers(0, 60, rows).astype("float64")
    cost = 3.0 + 2.5 * frame["distance"] + rng.normal(0, 0.5, rows)
    return frame[list(FEATURES)], cost


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, pd.Series]:
    return trips(400, seed=3)


@pytest.fixture(scope="module")
def forest(data: tuple[pd.DataFrame, pd.Series]) -> Pipeline:
    X, y = data  # noqa: N806
    pipe = random_forest_pipeline(n_estimators=12, max_depth=8, seed=1).fit(X, y)
    pipe.set_params(model__n_jobs=1)
    return pipe


@pytest.mark.parametrize("kind", [RandomForestRegressor, ExtraTreesRegressor])
def test_compiled_forest_equals_sklearn(kind: type, data: tuple[pd.DataFrame, pd.Series]) -> None:
    X, y = data  # noqa: N806
    pipe = pipeline_with(kind(n_estimators=9, max_depth=6, random_state=2, n_jobs=1)).fit(X, y)
    fast = compiled_predictor(pipe)
    assert isinstance(fast, CompiledPipeline)
    queries = trips(300, seed=11)[0]
    # Bit for bit: float32 rounding of the inputs, double thresholds, the running sum in
    # estimator order divided by the tree count.
    expected = pipe.predict(queries)
    np.testing.assert_array_equal(fast.predict(queries), expected)
    np.testing.assert_array_equal(fast.predict_features(queries.to_numpy()), expected)
    np.testing.assert_array_equal(fast.predict(queries.head(1)), expected[:1])
    rows = queries.to_numpy().tolist()
    assert [fast.predict_row(row) for row in rows] == expected.tolist()


def test_a_one_leaf_tree_compiles(data: tuple[pd.DataFrame, pd.Series]) -> None:
    X, _ = data  # noqa: N806
    constant = pd.Series(np.full(len(X), 7.25))  # every tree is a single leaf
    forest = RandomForestRegressor(n_estimators=3, random_state=0, n_jobs=1).fit(X, constant)
    assert all(e.tree_.node_count == 1 for e in forest.estimators_)
    predicted = CompiledTrees(forest).predict(X.to_numpy())
    np.testing.assert_array_equal(predicted, np.full(len(X), 7.25))


def test_one_row_features_equal_the_numpy_ones(data: tuple[pd.DataFrame, pd.Series]) -> None:
    X, _ = data  # noqa: N806
    stage = DerivedFeatures().fit(X)
    names = [str(n) for n in stage.feature_names_out_]
    queries = pd.concat([X, trips(200, seed=21)[0]], ignore_index=True)
    expected = stage.transform_features(queries.to_numpy())
    got = np.array([[derived_row(row)[n] for n in names] for row in queries.to_numpy().tolist()])
    # The same float operations in the same order; numpy's AVX-512 sin/cos (not on the
    # machines this was measured on) may differ from the C library's in the last bits.
    np.testing.assert_array_max_ulp(got, expected, maxulp=2)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the deliberate overflow
def test_non_finite_requests_fall_back_to_sklearn(forest: Pipeline) -> None:
    fast = compiled_predictor(forest)
    assert fast is not None
    far = trips(2, seed=12)[0]
    far.loc[0, "distance"] = 1e308  # beyond float32: sklearn's own check must answer
    for predict in (forest.predict, fast.predict):
        with pytest.raises(ValueError, match="infinity or a value too large"):
            predict(far)
    with pytest.raises(ValueError, match="infinity or a value too large"):
        fast.predict_row(far.to_numpy()[0].tolist())


def test_no_fast_path_for_other_models(data: tuple[pd.DataFrame, pd.Series]) -> None:
    X, y = data  # noqa: N806
    assert compiled_predictor(pipeline_with(Ridge()).fit(X, y)) is None
    assert compiled_predictor(Ridge().fit(X, y)) is None


def test_compiled_forest_refuses_a_wrong_width(forest: Pipeline) -> None:
    compiled = CompiledTrees(forest.named_steps["model"])
    with pytest.raises(ModelError, match=r"expected \d+ features, got shape \(1, 3\)"):
        compiled.predict(np.zeros((1, 3)))
    with pytest.raises(ModelError, match="fitted single-output forest"):
        sklearn_forest(RandomForestRegressor())


def test_derived_features_keep_pandas_values(data: tuple[pd.DataFrame, pd.Series]) -> None:
    X, _ = data  # noqa: N806
    stage = DerivedFeatures().fit(X)
    out = stage.transform(X)
    assert list(out.columns) == list(stage.feature_names_out_) == list(derive(X).columns)
    pd.testing.assert_frame_equal(out, derive(X))
    assert out.index.equals(X.index)
    # Columns as text (a CSV read without types) give the same numbers.
    pd.testing.assert_frame_equal(stage.transform(X.astype(str)), out)
    # The frame-free path of score.py: the 20 inputs as an array in FEATURES order.
    np.testing.assert_array_equal(stage.transform_features(X.to_numpy()), out.to_numpy())
    with pytest.raises(FeatureSchemaError, match=r"20 features as columns, got shape \(2, 3\)"):
        stage.transform_features(np.zeros((2, 3)))


def test_an_older_model_gets_exactly_its_fitted_columns(
    data: tuple[pd.DataFrame, pd.Series],
) -> None:
    """A model fitted before rate_card_fare existed still predicts with today's code."""
    X, y = data  # noqa: N806
    stage = DerivedFeatures().fit(X)
    old_names = [n for n in stage.feature_names_out_ if n != "rate_card_fare"]
    stage.feature_names_out_ = np.array(old_names, dtype=object)
    old = pickle.loads(pickle.dumps(stage))  # as a saved model would carry it
    assert list(old.transform(X).columns) == old_names
    forest = RandomForestRegressor(n_estimators=5, random_state=0, n_jobs=1)
    forest.fit(old.transform(X), y)
    pipe = Pipeline([("features", old), ("model", forest)])
    expected = forest.predict(old.transform(X))
    np.testing.assert_array_equal(pipe.predict(X), expected)
    fast = compiled_predictor(pipe)
    assert fast is not None
    np.testing.assert_array_equal(fast.predict(X.head(20)), expected[:20])
    assert fast.predict_row(X.to_numpy()[0].tolist()) == expected[0]


def test_a_fitted_column_this_code_cannot_compute_is_named(
    data: tuple[pd.DataFrame, pd.Series],
) -> None:
    X, _ = data  # noqa: N806
    stage = DerivedFeatures().fit(X)
    stage.feature_names_out_ = np.array([*stage.feature_names_out_, "toll_zone"], dtype=object)
    with pytest.raises(FeatureSchemaError, match="derived feature 'toll_zone'"):
        stage.transform(X)


@pytest.fixture(scope="module")
def saved_forest(
    tmp_path_factory: pytest.TempPathFactory, data: tuple[pd.DataFrame, pd.Series]
) -> Path:
    """The train2 pipeline saved as train2 saves it (n_jobs=-1, cloudpickle, code_paths)."""
    X, y = data  # noqa: N806
    pipe = random_forest_pipeline(n_estimators=10, max_depth=6, seed=4).fit(X, y)
    folder = tmp_path_factory.mktemp("model") / "model"
    save_model(pipe, folder, X, {"trainer": "rf"})
    return folder


def test_online_load_scores_on_the_compiled_forest(
    saved_forest: Path, data: tuple[pd.DataFrame, pd.Series]
) -> None:
    import mlflow.pyfunc

    model = score.load_scoring_model(saved_forest.parent)  # finds the MLmodel below
    assert isinstance(model.estimator, CompiledPipeline)
    assert model.estimator.pipeline.named_steps["model"].n_jobs == 1
    assert [c.name for c in model.columns] == list(FEATURES)
    X = data[0].head(3)  # noqa: N806
    loaded = mlflow.pyfunc.load_model(str(saved_forest))
    # sklearn on several threads adds the trees in whichever order they finish.
    assert model.predict(X) == pytest.approx(list(loaded.predict(X)), rel=1e-12)
    reference = loaded.get_raw_model().set_params(model__n_jobs=1).predict(X)
    assert model.predict(X) == list(reference)
    body = {"input_data": {"columns": list(FEATURES), "data": X.to_numpy().tolist()}}
    assert score.score_body(json.dumps(body), model, 10) == model.predict(X)
    one = {"input_data": [dict(zip(FEATURES, X.to_numpy()[1].tolist(), strict=True))]}
    assert score.score_body(json.dumps(one), model, 10) == [reference[1]]


def test_batch_load_keeps_all_cores(saved_forest: Path) -> None:
    model = score.load_scoring_model(saved_forest, n_jobs=-1)
    assert isinstance(model.estimator, Pipeline)
    assert model.estimator.named_steps["model"].n_jobs == -1


def test_one_row_requests_are_refused_as_larger_ones(saved_forest: Path) -> None:
    """The plain-float path of single rows checks what the numpy path checks, in its words."""
    from taxi_fare.serving.online import answer
    from taxi_fare.serving.payload import RequestError, to_frame

    model = score.load_scoring_model(saved_forest)
    good = dict.fromkeys(FEATURES, 1.0)
    no_distance = {k: v for k, v in good.items() if k != "distance"}
    bad_rows = {
        "missing columns: distance": no_distance,
        "unknown columns (not in the model signature): tip": {**good, "tip": 1.0},
        "column 'distance' row 0: expected a number, got \"2.5\"": {**good, "distance": "2.5"},
        "column 'distance' row 0: expected a number, got true": {**good, "distance": True},
        "column 'distance' row 0: expected a number, got null": {**good, "distance": None},
        "column 'distance' row 0: 1e+300 is beyond 1e+09 in magnitude": {**good, "distance": 1e300},
    }
    for message, row in bad_rows.items():
        columns, values = list(row), [list(row.values())]
        with pytest.raises(RequestError) as numpy_path:
            to_frame(columns, values, model.columns)
        assert str(numpy_path.value) == message
        status, payload = answer(json.dumps({"input_data": [row]}), model, 10)
        assert (status, payload) == (400, {"message": message})
    split = {"columns": ["distance", "distance"], "data": [[1.0, 2.0]]}
    status, payload = answer(json.dumps({"input_data": split}), model, 10)
    assert (status, payload) == (400, {"message": "duplicate columns: distance"})
    assert answer(json.dumps({"input_data": [good]}), model, 10)[0] == 200


def test_without_onnxruntime_the_forest_is_served_by_sklearn(
    forest: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An image without the runtime (the curated AutoML one) still serves, on sklearn."""
    import sys

    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import raises ImportError
    assert compiled_predictor(forest) is None


def test_one_row_answers_stay_right_across_threads(forest: Pipeline) -> None:
    """predict_row's bound buffers belong to one thread: rows scored on four threads at once
    (waitress, the Windows server, runs requests on threads) get sklearn's answers."""
    from concurrent.futures import ThreadPoolExecutor

    fast = compiled_predictor(forest)
    assert isinstance(fast, CompiledPipeline)
    queries = trips(400, seed=23)[0]
    expected = forest.predict(queries).tolist()
    rows = queries.to_numpy().tolist()
    with ThreadPoolExecutor(max_workers=4) as pool:
        got = list(pool.map(fast.predict_row, rows * 3))
    assert got == expected * 3
