from __future__ import annotations

from pathlib import Path

from bench.pipeline_bench import step_seconds


def test_step_seconds_reads_finished_child_runs_in_start_order(tmp_path: Path) -> None:
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    experiment = client.create_experiment("pipeline", artifact_location=tmp_path.as_uri())
    parent = client.create_run(experiment, run_name="pipeline").info.run_id
    for name, start, seconds in (
        ("prep", 1_000, 2.5),
        ("train", 5_000, 10.0),
        ("eval", 20_000, None),
    ):
        tags = {"mlflow.parentRunId": parent}
        run = client.create_run(experiment, start_time=start, tags=tags, run_name=name)
        if seconds is not None:
            client.set_terminated(run.info.run_id, end_time=start + int(seconds * 1000))
    other = client.create_run(experiment, start_time=0, run_name="unrelated").info.run_id
    client.set_terminated(other, end_time=500)
    assert step_seconds(uri, parent) == {"prep": 2.5, "train": 10.0}
