"""bench.forest_size: its specs, its refusal of an unbuilt workspace, its figures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from taxi_fare.models import random_forest_pipeline
from taxi_fare.schema import FEATURES, TARGET

from bench import forest_size
from tests.data_science.test_fast_scoring import trips


def test_specs_are_trees_and_leaf_size() -> None:
    assert forest_size.parse_spec("100:5") == (100, 5)
    for bad in ("100", "100:0", "a:5", ":5"):
        with pytest.raises(SystemExit, match=rf"spec '{bad}': expected TREES:MIN_SAMPLES_LEAF"):
            forest_size.parse_spec(bad)


def test_an_unbuilt_workspace_is_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match=r"has no train-\*/ rows or prep/test split"):
        forest_size.main(["--workdir", str(tmp_path), "10:5"])


def test_the_figures_are_the_forests_own(tmp_path: Path) -> None:
    for name, seed in (("train", 2), ("test", 9)):
        X, y = trips(300, seed=seed)  # noqa: N806
        (tmp_path / name).mkdir()
        pd.concat([X, y.rename(TARGET)], axis=1).to_parquet(tmp_path / name / "data.parquet")
    [row] = forest_size.measure(tmp_path / "train", tmp_path / "test", [(6, 3)], test_rows=200)
    train = pd.read_parquet(tmp_path / "train" / "data.parquet")
    test = pd.read_parquet(tmp_path / "test" / "data.parquet").head(200)
    pipe = random_forest_pipeline(n_estimators=6, min_samples_leaf=3)
    pipe.fit(train[list(FEATURES)], train[TARGET])
    own = np.sqrt(np.mean((pipe.predict(test[list(FEATURES)]) - test[TARGET]) ** 2))
    nodes = sum(t.tree_.node_count for t in pipe.steps[-1][1].estimators_)
    assert row == {"trees": 6, "min_samples_leaf": 3, "test_rmse": pytest.approx(own, rel=1e-12),
                   "nodes": nodes}  # fmt: skip
