"""Unit tests of the pieces under the twin: expression grammar, job graph, sweep sampling,
reuse keys, data asset resolution. No subprocess, no MLflow."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest

from mlops.amlspec import graph
from mlops.amlspec.expressions import Expr, ExpressionError, parse, substitute, whole
from mlops.amlspec.references import AssetRef, asset_ref, datastore_path
from mlops.errors import MlopsError
from mlops.local import data, reuse, sweep
from mlops.local.pipeline import SweepSpec, load_pipeline

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "pipelines"


@pytest.mark.parametrize(
    ("text", "expr"),
    [
        ("parent.inputs.seed", Expr("parent", "seed", "inputs")),
        ("parent.outputs.model", Expr("parent", "model", "outputs")),
        ("parent.jobs.prep.outputs.train_data", Expr("job", "train_data", "outputs", "prep")),
        ("parent.jobs.prep.inputs.raw", Expr("job", "raw", "inputs", "prep")),
        ("inputs.n", Expr("own", "n", "inputs")),
        ("search_space.lr", Expr("search_space", "lr")),
        ("name", Expr("runtime", "name")),
        ("output_name", Expr("runtime", "output_name")),
    ],
)
def test_every_expression_form_parses(text: str, expr: Expr) -> None:
    assert parse(text) == expr
    assert whole("${{ " + text + " }}") == expr
    assert str(expr).replace(" ", "") == "${{" + text + "}}"


@pytest.mark.parametrize("text", ["parent.foo", "parent.jobs.x.outputs", "jobs.a.outputs.b", ""])
def test_other_expressions_are_refused(text: str) -> None:
    with pytest.raises(ExpressionError, match="is not an Azure ML expression"):
        parse(text)


def test_templates_substitute_each_expression() -> None:
    text = "runs/${{name}}/${{output_name}}"
    assert whole(text) is None
    assert substitute(text, lambda e: e.name.upper()) == "runs/NAME/OUTPUT_NAME"


def test_references() -> None:
    assert asset_ref("azureml:raw@latest") == AssetRef("raw", label="latest")
    assert asset_ref("azureml:raw:3") == AssetRef("raw", version="3")
    assert asset_ref("azureml://registries/azureml/environments/sklearn-1.5/labels/latest") == (
        AssetRef("sklearn-1.5", label="latest", registry="azureml")
    )
    assert asset_ref("./data") is None and asset_ref("https://x/y") is None
    assert datastore_path("azureml://datastores/ws/paths/a/b") == ("ws", "a/b")


def test_one_cycle_search_and_order() -> None:
    assert graph.find_cycle({"a": ["b"], "b": ["c"], "c": ["a"], "d": []}) == ["a", "b", "c", "a"]
    assert graph.find_cycle({"a": [], "b": ["a"]}) is None
    assert graph.order({"late": ["early"], "early": [], "other": []}) == ["early", "late", "other"]


def _spec(**changes: object) -> SweepSpec:
    base = SweepSpec(
        search_space={
            "a": {"type": "uniform", "min_value": 1, "max_value": 2},
            "b": {"type": "choice", "values": [3, 4]},
            "c": {"type": "loguniform", "min_value": 0, "max_value": 1},
            "d": {"type": "qnormal", "mu": 10, "sigma": 1, "q": 5},
            "e": {"type": "randint", "upper": 3},
        },
        sampling="random",
        seed=7,
        goal="minimize",
        metric="loss",
        max_total_trials=20,
        timeout=None,
        trial_timeout=None,
    )
    return dataclasses.replace(base, **changes)


def test_random_sampling_is_seeded_and_within_each_distribution() -> None:
    first, again = sweep.trials(_spec()), sweep.trials(_spec())
    assert first == again and len(first) == 20
    assert sweep.trials(_spec(seed=8)) != first
    for trial in first:
        assert 1 <= trial["a"] <= 2 and trial["b"] in (3, 4)
        assert 1 <= trial["c"] <= math.e and trial["d"] % 5 == 0 and trial["e"] in (0, 1, 2)


def test_grid_sampling_and_best() -> None:
    space = {
        "b": {"type": "choice", "values": [1, 2]},
        "z": {"type": "choice", "values": ["x", "y"]},
    }
    grid = sweep.trials(_spec(search_space=space, sampling="grid", max_total_trials=None))
    assert grid == [{"b": 1, "z": "x"}, {"b": 1, "z": "y"}, {"b": 2, "z": "x"}, {"b": 2, "z": "y"}]
    assert sweep.best([(0, 3.0), (1, None), (2, 1.0)], "minimize") == 2
    assert sweep.best([(0, 3.0), (1, None), (2, 1.0)], "maximize") == 0
    assert sweep.best([(0, None)], "minimize") is None


def test_reuse_key_follows_component_inputs_and_determinism(tmp_path: Path) -> None:
    step = load_pipeline(FIXTURES / "relative-paths.yml").steps[0]
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "f.txt").write_text("1")
    key = reuse.key(step, {"source": folder, "tag": "a"}, "env")
    assert key == reuse.key(step, {"source": folder, "tag": "a"}, "env")
    assert key != reuse.key(step, {"source": folder, "tag": "b"}, "env")
    assert key != reuse.key(step, {"source": folder, "tag": "a"}, "other env")
    (folder / "g.txt").write_text("2")
    assert key != reuse.key(step, {"source": folder, "tag": "a"}, "env")
    step.component.is_deterministic = False
    try:
        assert reuse.key(step, {"source": folder, "tag": "a"}, "env") is None
    finally:
        step.component.is_deterministic = True


def test_data_references_resolve_or_say_why_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLOPS_HOME", str(tmp_path))
    catalogue = load_pipeline(FIXTURES / "data-assets.yml").catalogue
    assert data.resolve("azureml:fixture-raw@latest", catalogue, "w") == FIXTURES / "data" / "raw"
    with pytest.raises(MlopsError, match="w: data asset 'fixture-raw:7' is neither registered"):
        data.resolve("azureml:fixture-raw:7", catalogue, "w")
    with pytest.raises(MlopsError, match="label '@prod' is not known locally"):
        data.resolve("azureml:fixture-raw@prod", catalogue, "w")
    assert data.resolve("azureml://datastores/ws/paths/p/q", None, "w") == (
        tmp_path / "datastores" / "ws" / "p/q"
    )
    spec = tmp_path / "remote.yml"
    spec.write_text("type: uri_folder\nname: r\npath: https://example.org/data/\n")
    with pytest.raises(MlopsError, match=r"remote.yml:3: path 'https://example.org/data/' is not"):
        data.create(spec)
    assert not (tmp_path / "data").exists()  # nothing half-written
