"""Running a (toy) pipeline: subprocess per step, MLflow parent/child runs, failure handling."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mlops.errors import MlopsError
from mlops.local.pipeline import load_pipeline
from mlops.local.runner import RunResult, StepResult, run_pipeline


class RecordingDisplay:
    """Keeps what the runner reports, in order."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, str]] = []
        self.tails: dict[str, list[str]] = {}

    def step_started(self, result: StepResult) -> None:
        self.events.append(("started", result.name, result.state))

    def step_finished(self, result: StepResult, tail: list[str]) -> None:
        self.events.append(("finished", result.name, result.state))
        self.tails[result.name] = tail


@pytest.fixture(scope="module")
def client(module_home: Path) -> Any:
    from mlflow.tracking import MlflowClient

    from mlops import settings

    return MlflowClient(tracking_uri=settings.tracking_uri("dev"))


@pytest.fixture(scope="module")
def good_run(toy: Path, module_home: Path) -> tuple[RunResult, RecordingDisplay]:
    display = RecordingDisplay()
    pipeline = load_pipeline(toy / "pipeline.yml")
    return run_pipeline(pipeline, env="dev", overrides={"n": 5}, display=display), display


def test_steps_run_in_order_and_pass_outputs_along(good_run: tuple[RunResult, Any]) -> None:
    result, display = good_run
    assert result.failed is None
    assert [(s.name, s.state) for s in result.steps] == [
        ("make", "succeeded"),
        ("total", "succeeded"),
    ]
    assert display.events == [
        ("started", "make", "running"),
        ("finished", "make", "succeeded"),
        ("started", "total", "running"),
        ("finished", "total", "succeeded"),
    ]
    total = json.loads((result.outputs[("total", "result")] / "total.json").read_text())
    assert total == {"total": 37.5, "note": "made 5 numbers"}  # (1+...+5) * 2.5


def test_run_folder_layout(good_run: tuple[RunResult, Any], module_home: Path) -> None:
    result, _ = good_run
    assert result.run_dir == module_home / "runs" / result.run_id
    assert result.outputs[("make", "numbers")] == result.run_dir / "make" / "numbers"
    log = (result.run_dir / "logs" / "make.log").read_text()
    assert "made 5 numbers" in log and log.startswith("$ ")


def test_the_data_asset_folder_reaches_the_step(good_run: tuple[RunResult, Any]) -> None:
    result, _ = good_run
    seen = json.loads((result.outputs[("make", "numbers")] / "seen.json").read_text())
    assert seen["files"] == ["a.txt", "nested/b.txt"]
    assert seen["env"]["TOY"] == "yes"  # the job's environment_variables


def test_mlflow_has_one_parent_and_a_child_per_step(
    good_run: tuple[RunResult, Any], client: Any
) -> None:
    result, _ = good_run
    parent = client.get_run(result.run_id)
    assert parent.info.status == "FINISHED"
    assert parent.data.params["n"] == "5"
    children = {s.name: client.get_run(s.mlflow_run_id) for s in result.steps}
    for name, child in children.items():
        assert child.data.tags["mlflow.parentRunId"] == result.run_id
        assert child.data.tags["mlflow.runName"] == name
        assert child.info.status == "FINISHED"
    seen = json.loads((result.outputs[("make", "numbers")] / "seen.json").read_text())
    assert seen["env"]["MLFLOW_RUN_ID"] == children["make"].info.run_id
    assert seen["env"]["MLFLOW_TRACKING_URI"] == result.tracking_uri
    assert result.tracking_uri.endswith("/dev/mlflow.db")


def test_data_overrides_the_pipeline_data_input(
    toy: Path, module_home: Path, tmp_path: Path
) -> None:
    extra = tmp_path / "extra.txt"
    extra.write_text("x\n")
    pipeline = load_pipeline(toy / "pipeline.yml")
    result = run_pipeline(pipeline, data=[toy / "raw" / "a.txt", extra])
    seen = json.loads((result.outputs[("make", "numbers")] / "seen.json").read_text())
    assert seen["files"] == ["a.txt", "extra.txt"]


@pytest.fixture(scope="module")
def failed_run(toy: Path, module_home: Path) -> tuple[RunResult, RecordingDisplay]:
    path = toy / "failing.yml"
    path.write_text(
        (toy / "pipeline.yml")
        .read_text()
        .replace("./components/total.yml", "./components/fail.yml")
        .replace("      scale: ${{parent.inputs.scale}}\n", "")
        .replace("      note: made ${{parent.inputs.n}} numbers\n", "")
    )
    path.write_text(
        path.read_text()
        + """  after:
    type: command
    component: ./components/total.yml
    inputs:
      numbers: ${{parent.jobs.total.outputs.nothing}}
"""
    )
    display = RecordingDisplay()
    return run_pipeline(load_pipeline(path), display=display), display


def test_a_failing_step_stops_the_run(failed_run: tuple[RunResult, Any]) -> None:
    result, display = failed_run
    assert [(s.name, s.state) for s in result.steps] == [
        ("make", "succeeded"),
        ("total", "failed"),
        ("after", "skipped"),
    ]
    failed = result.failed
    assert failed is not None and failed.name == "total"
    assert failed.cause == "error: numbers.json: column 'n' has value -1"
    assert display.tails["total"][-2:] == ["working on it", failed.cause]
    assert ("started", "after", "running") not in display.events
    assert ("total", "nothing") not in result.outputs


def test_a_failed_run_keeps_its_logs_and_marks_mlflow(
    failed_run: tuple[RunResult, Any], client: Any
) -> None:
    result, _ = failed_run
    failed = result.failed
    assert failed is not None and failed.log == result.run_dir / "logs" / "total.log"
    assert "error: numbers.json" in failed.log.read_text()
    assert client.get_run(result.run_id).info.status == "FAILED"
    assert client.get_run(failed.mlflow_run_id).info.status == "FAILED"
    artifacts = [a.path for a in client.list_artifacts(failed.mlflow_run_id, "logs")]
    assert artifacts == ["logs/total.log"]


def test_a_bad_input_value_stops_before_any_run(toy: Path, module_home: Path, client: Any) -> None:
    pipeline = load_pipeline(toy / "pipeline.yml")
    before = len(client.search_runs([e.experiment_id for e in client.search_experiments()]))
    runs_before = sorted((module_home / "runs").iterdir())
    with pytest.raises(
        MlopsError, match=r"pipeline input 'n' \(job 'make' input 'n'\): 0 is below"
    ):
        run_pipeline(pipeline, overrides={"n": 0})
    with pytest.raises(MlopsError, match=r"--data: .*nope does not exist"):
        run_pipeline(pipeline, data=[toy / "nope"])
    after = len(client.search_runs([e.experiment_id for e in client.search_experiments()]))
    assert after == before
    assert sorted((module_home / "runs").iterdir()) == runs_before


def test_a_command_that_cannot_start_fails_the_step(toy: Path, module_home: Path) -> None:
    component = toy / "components" / "absent.yml"
    component.write_text(
        (toy / "components" / "make.yml")
        .read_text()
        .replace("python make.py", "no-such-tool-xyz make.py")
    )
    path = toy / "absent.yml"
    path.write_text(
        (toy / "pipeline.yml")
        .read_text()
        .replace("./components/make.yml", "./components/absent.yml")
    )
    result = run_pipeline(load_pipeline(path))
    failed = result.failed
    assert failed is not None and failed.name == "make"
    assert failed.cause is not None and failed.cause.startswith("error: [Errno 2]")
    assert "no-such-tool-xyz" in failed.cause
    assert [s.state for s in result.steps] == ["failed", "skipped"]


@pytest.mark.parametrize(
    ("tail", "returncode", "cause"),
    [
        (["INFO x", "error: bad file a.csv", "Traceback noise"], 1, "error: bad file a.csv"),
        (["INFO x", "ValueError: boom"], 1, "ValueError: boom (exit code 1)"),
        ([], 3, "exit code 3"),
        (["INFO x"], -9, "killed by SIGKILL"),
        (["job 'a' input 'b': required"], None, "job 'a' input 'b': required"),
    ],
)
def test_failure_cause(tail: list[str], returncode: int | None, cause: str) -> None:
    from mlops.local.runner import _cause

    assert _cause(tail, returncode) == cause
