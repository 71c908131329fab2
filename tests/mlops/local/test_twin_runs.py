"""The fixture pipelines run on the twin as they would on Azure ML (issue 17).

One MLOPS_HOME for the module; runs are cheap (standard-library steps), except the sweep
whose trials log to MLflow.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from mlops.cli import main
from mlops.errors import MlopsError
from mlops.local import data
from mlops.local.pipeline import load_pipeline
from mlops.local.runner import RunResult, run_pipeline

pytestmark = pytest.mark.e2e

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "pipelines"


def _listing(result: RunResult, step: str, output: str = "copied") -> dict:
    return json.loads((result.outputs[(step, output)] / "listing.json").read_text())


def _states(result: RunResult) -> dict[str, str]:
    return {s.name: s.state for s in result.steps}


@pytest.fixture(scope="module")
def relative(module_home: Path) -> RunResult:
    return run_pipeline(FIXTURES / "relative-paths.yml")


def test_relative_paths_resolve_against_the_yaml_that_names_them(relative: RunResult) -> None:
    assert relative.failed is None
    assert _listing(relative, "from_pipeline_input")["files"] == ["a.txt", "nested/b.txt"]
    assert _listing(relative, "from_job_input")["files"] == ["b.txt"]


def test_unchanged_steps_are_reused_and_no_reuse_reruns(relative: RunResult) -> None:
    again = run_pipeline(FIXTURES / "relative-paths.yml")
    assert set(_states(again).values()) == {"reused"}
    first = {s.name: s.mlflow_run_id for s in relative.steps}
    assert {s.name: s.reused_from for s in again.steps} == first
    assert (
        again.outputs[("from_job_input", "copied")]
        == relative.outputs[("from_job_input", "copied")]
    )
    forced = run_pipeline(FIXTURES / "relative-paths.yml", reuse=False)
    assert set(_states(forced).values()) == {"succeeded"}


def test_data_assets_are_versioned_and_resolved(module_home: Path, tmp_path: Path) -> None:
    first = data.create(FIXTURES / "data.yml")
    second = data.create(FIXTURES / "data.yml")
    assert (first.version, second.version) == ("1", "2")
    assert Path(second.path) == module_home / "data" / "fixture-raw" / "2" / "files"
    assert sorted(p.name for p in Path(second.path).rglob("*.txt")) == ["a.txt", "b.txt"]
    with pytest.raises(MlopsError, match="fixture-raw version 1 already exists"):
        data.create(FIXTURES / "data.yml", version="1")
    assert [(a.name, a.version) for a in data.list_assets()] == [
        ("fixture-raw", "1"),
        ("fixture-raw", "2"),
    ]
    result = run_pipeline(FIXTURES / "data-assets.yml")
    assert result.failed is None
    for step, version in (("copy_latest", "2"), ("copy_version", "1")):
        assert _listing(result, step)["files"] == ["a.txt", "nested/b.txt"]
        command = (result.run_dir / "logs" / f"{step}.log").read_text().splitlines()[0]
        snapshot = module_home / "data" / "fixture-raw" / version / "files"
        assert f"--source {snapshot} " in command, command


def test_nested_pipeline_components_bind_inputs_and_outputs_through(module_home: Path) -> None:
    result = run_pipeline(FIXTURES / "nested.yml")
    assert list(_states(result)) == [
        "outer/middle/copy",
        "outer/middle/count",
        "outer/local",
        "after",
    ]
    assert result.failed is None
    assert _listing(result, "outer/local")["files"] == ["b.txt"]  # path relative to outer.yml
    assert _listing(result, "outer/middle/copy")["tag"] == "outer-nested"
    assert json.loads(result.pipeline_outputs["counted"].read_text()) == {"count": 2}
    assert _listing(result, "after")["files"] == ["data/a.txt", "data/nested/b.txt", "listing.json"]


def test_output_paths_modes_and_continue_on_step_failure(module_home: Path) -> None:
    result = run_pipeline(FIXTURES / "outputs.yml")
    assert _states(result) == {
        "copy": "succeeded",
        "fail": "failed",
        "after_fail": "skipped",
        "sibling": "succeeded",
    }
    copy = next(s for s in result.steps if s.name == "copy")
    expected = (
        module_home / "datastores" / "workspaceblobstore" / "fixture" / str(copy.mlflow_run_id)
    )
    assert result.outputs[("copy", "copied")] == expected / "copied"
    assert result.pipeline_outputs["listing"] == result.outputs[("sibling", "copied")]
    assert (
        result.failed is not None and result.failed.cause == "error: fixture step fails on purpose"
    )


def test_a_grid_sweep_picks_the_best_trial(module_home: Path) -> None:
    result = run_pipeline(FIXTURES / "sweep-grid.yml")
    assert result.failed is None
    tune = result.steps[0]
    # max_total_trials: 2 of the 4 grid points, in search_space order
    assert [t["params"] for t in tune.trials] == [{"y": 0, "x": 1.0}, {"y": 0, "x": 2.5}]
    assert [t["loss"] for t in tune.trials] == [4.0, 0.25]
    assert tune.best_trial == 1
    best = json.loads((result.outputs[("tune", "model")] / "trial.json").read_text())
    assert best == {"x": 2.5, "y": 0, "loss": 0.25}
    assert _listing(result, "copy_best")["files"] == ["trial.json"]


def test_bayesian_sampling_falls_back_to_random(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        pipeline = load_pipeline(FIXTURES / "sweep-random.yml")
    spec = pipeline.steps[0].sweep
    assert spec is not None and (spec.sampling, spec.goal, spec.max_total_trials) == (
        "random",
        "maximize",
        2,
    )
    assert any("bayesian sampling has no local engine" in r.message for r in caplog.records)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "bad/binding.yml"], "bad/binding.yml:14: jobs.copy.inputs.source:"),
        (["run", "bad/unknown-asset.yml"], "data asset 'no-such-data' is not defined"),
        (["run", "parallel.yml"], "job type 'parallel' cannot run locally"),
        (["data", "create", "--file", "nested.yml"], "type 'pipeline' is not one of"),
    ],
    ids=["binding", "unknown-asset", "parallel", "data-spec"],
)
def test_refusals_are_one_line(
    module_home: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    argv = [str(FIXTURES / a) if a.endswith(".yml") else a for a in args]
    runs_before = sorted((module_home / "runs").glob("*"))
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0], err
    assert sorted((module_home / "runs").glob("*")) == runs_before


def test_inline_components_and_job_level_commands_run_in_a_shell(module_home: Path) -> None:
    result = run_pipeline(FIXTURES / "inline.yml")
    assert result.failed is None, result.failed
    assert (result.outputs[("inline", "o")] / "n.txt").read_text() == "3\n"
    assert (result.outputs[("joblevel", "out")] / "m.txt").read_text() == "4\n"


def test_mlops_run_and_mlops_train_pipeline_run_any_pipeline_job(
    module_home: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run.json"
    main(["run", str(FIXTURES / "nested.yml"), "--no-reuse", "--json", str(out)])
    payload = json.loads(out.read_text())
    assert payload["status"] == "succeeded"
    assert [s["state"] for s in payload["steps"]] == ["succeeded"] * 4
    assert json.loads(Path(payload["outputs"]["counted"]).read_text()) == {"count": 2}
    summary = tmp_path / "summary.json"
    main(["train", "--pipeline", str(FIXTURES / "nested.yml"), "--summary-json", str(summary)])
    trained = json.loads(summary.read_text())
    assert (trained["status"], trained["metrics"], trained["model"]) == ("succeeded", None, None)
