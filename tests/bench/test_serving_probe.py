"""bench.serving_probe: its summary, its refusal of an unbuilt workspace, the forest cut."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from taxi_fare.models import random_forest_pipeline, save_model
from taxi_fare.schema import FEATURES, TARGET

from bench import serving_probe
from tests.data_science.test_fast_scoring import trips


def test_summary_takes_medians_and_means_in_ms() -> None:
    got = serving_probe.summary([0.001, 0.003, 0.002, 0.010], [0.5, 0.1, 0.3, 0.3])
    assert got == {"p50_ms": pytest.approx(2.5), "mean_ms": pytest.approx(4.0),
                   "run_p50_ms": pytest.approx(0.3), "run_mean_ms": pytest.approx(0.3)}  # fmt: skip


def test_an_unbuilt_workspace_is_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match=r"model/MLmodel is missing: run python -m bench"):
        serving_probe.run(tmp_path)


def test_the_whole_forest_cut_is_the_forests_own_rmse(tmp_path: Path) -> None:
    X, y = trips(300, seed=2)  # noqa: N806
    pipe = random_forest_pipeline(n_estimators=6, max_depth=5, seed=3).fit(X, y)
    save_model(pipe, tmp_path / "model", X, {"trainer": "rf"})
    test = tmp_path / "test"
    test.mkdir()
    queries, actual = trips(200, seed=9)
    pd.concat([queries, actual.rename(TARGET)], axis=1).to_parquet(test / "data.parquet")
    got = serving_probe.tree_counts_rmse(tmp_path / "model", test, counts=(6, 3, 9), rows=200)
    assert set(got) == {6, 3}  # a cut beyond the forest's trees is left out
    table = pd.read_parquet(test / "data.parquet").sample(n=200, random_state=1)
    own = np.sqrt(np.mean((pipe.predict(table[list(FEATURES)]) - table[TARGET]) ** 2))
    assert got[6] == pytest.approx(own, rel=1e-12)
    assert got[3] != pytest.approx(got[6], rel=1e-9)


def test_the_phase_script_answers_as_score_py_and_times_each_phase(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The timed copy of score.py's one-row path must give score.py's prediction (else its
    phases time something else) and write one time per phase per request."""
    import importlib.util
    import json

    import score

    X, y = trips(300, seed=4)  # noqa: N806
    pipe = random_forest_pipeline(n_estimators=4, max_depth=6, seed=5).fit(X, y)
    save_model(pipe, tmp_path / "model", X, {"trainer": "rf"})
    out, script = tmp_path / "phases.json", tmp_path / "phases.py"
    script.write_text(serving_probe.PHASES_SCRIPT.format(
        src=str(serving_probe._SRC), out=str(out), phases=serving_probe.PHASES))  # fmt: skip
    monkeypatch.setenv("AZUREML_MODEL_DIR", str(tmp_path / "model"))
    spec = importlib.util.spec_from_file_location("phases_probe", script)
    assert spec is not None and spec.loader is not None
    probe = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(probe)
    probe.init()
    model = score.load_scoring_model(tmp_path / "model")
    rows = X.head(100).to_dict(orient="records")
    for row in rows:
        body = json.dumps({"input_data": {"columns": list(row), "index": [0],
                                          "data": [list(row.values())]}})  # fmt: skip
        assert probe.run(body) == score.score_body(body, model, 10)
    times = json.loads(out.read_text())
    assert sorted(times) == sorted(serving_probe.PHASES)
    assert all(len(v) == 100 and min(v) > 0 for v in times.values())
