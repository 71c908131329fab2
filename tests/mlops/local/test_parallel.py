"""``type: parallel`` in the twin (issue 21): Azure ML's init()/run(mini_batch) contract on
worker processes, append_row_to, error_threshold, and the per-file prep pipeline."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mlops.local import parallel
from mlops.local.pipeline import load_pipeline

REPO = Path(__file__).resolve().parents[3]
ENTRY = """
import argparse, os
def init():
    global OUT
    parser = argparse.ArgumentParser()
    parser.add_argument("--out")
    OUT = parser.parse_known_args()[0].out
    open(os.path.join(OUT, f"init-{os.getpid()}"), "w").close()
def run(mini_batch):
    rows = []
    for item in mini_batch:
        if "bad" in os.path.basename(item):
            raise ValueError(f"{item}: cannot read")
        if "quiet" in os.path.basename(item):
            continue  # no result: the item counts as failed
        rows.append(f"{os.path.basename(item)} {os.getpid()}")
    return rows
"""


def drive(tmp_path: Path, files: list[str], *flags: str) -> subprocess.CompletedProcess:
    code, data, out, rows = (tmp_path / n for n in ("code", "data", "out", "rows"))
    for folder in (code, data, out):
        folder.mkdir(exist_ok=True)
    (code / "entry.py").write_text(ENTRY)
    for name in files:
        (data / name).write_text("x\n")
    (data / ".hidden").write_text("never a mini-batch item\n")
    argv = [sys.executable, str(parallel.DRIVER), "--entry_script", "entry.py",
            "--input_data", str(data), "--append_row_to", str(rows), *flags,
            "--", "--out", str(out)]  # fmt: skip
    return subprocess.run(argv, cwd=code, capture_output=True, text=True, timeout=120)


def test_workers_init_once_and_rows_are_appended(tmp_path: Path) -> None:
    names = [f"f{i}.csv" for i in range(6)]
    done = drive(tmp_path, names, "--mini_batch_size", "2", "--workers", "2")
    assert done.returncode == 0, done.stderr
    assert "6 items in 3 mini-batches of 2, 2 worker processes" in done.stdout
    lines = (tmp_path / "rows" / parallel.APPEND_ROW_FILE).read_text().splitlines()
    assert [line.split()[0] for line in lines] == names  # one row per item, in batch order
    inits = list((tmp_path / "out").glob("init-*"))
    # init() once per worker process, not per mini-batch (3 here); a worker the pool started
    # after the others had taken every mini-batch may be stopped before its init() ran.
    assert 1 <= len(inits) <= 2
    assert {line.split()[1] for line in lines} <= {p.name.split("-")[1] for p in inits}


@pytest.mark.parametrize("bad", ["g_bad.csv", "g_quiet.csv"])
def test_error_threshold_zero_fails_naming_the_file(tmp_path: Path, bad: str) -> None:
    done = drive(tmp_path, ["a.csv", bad, "z.csv"], "--workers", "2", "--error_threshold", "0")
    assert done.returncode == 1
    assert str(tmp_path / "data" / bad) in done.stderr and "exceed error_threshold 0" in done.stderr
    assert not (tmp_path / "rows" / parallel.APPEND_ROW_FILE).exists()  # nothing half-written


@pytest.mark.parametrize(("size", "needle"), [("10kb", "only a number of files"),
                                              ("0", "must be at least 1 file")])  # fmt: skip
def test_mini_batch_size_other_than_files_is_refused(
    tmp_path: Path, size: str, needle: str
) -> None:
    done = drive(tmp_path, ["a.csv"], "--mini_batch_size", size)
    assert done.returncode == 1 and needle in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "rows").exists()


def test_error_threshold_minus_one_ignores_failures(tmp_path: Path) -> None:
    done = drive(tmp_path, ["a.csv", "g_bad.csv", "z.csv"], "--workers", "1")
    assert done.returncode == 0, done.stderr
    lines = (tmp_path / "rows" / parallel.APPEND_ROW_FILE).read_text().splitlines()
    assert [line.split()[0] for line in lines] == ["a.csv", "z.csv"]


def test_prep_pipeline_plans_the_parallel_job_from_the_spec() -> None:
    pipeline = load_pipeline(REPO / "mlops/azureml/train/pipeline-parallel-prep.yml")
    steps = {s.name: s for s in pipeline.steps}
    prep_files = steps["prep_files"]
    assert prep_files.kind == "parallel"
    command = prep_files.component.command or ""
    for part in ("--entry_script prep_parallel.py", "--input_data ${{inputs.raw_data}}",
                 "--mini_batch_size 1", "--workers 2", "--error_threshold 0",
                 "--append_row_to ${{outputs.file_summaries}}",
                 "-- --train_parts ${{outputs.train_parts}}"):  # fmt: skip
        assert part in command, (part, command)
    assert prep_files.component.code == REPO / "data-science" / "src"
    assert [s.name for s in pipeline.steps][:2] == ["prep_files", "prep"]


@pytest.mark.parametrize("env", ["dev", "stage", "prod"])
def test_scale_settings_come_from_config_infra(env: str) -> None:
    """The submit sets the prep_* keys of config-infra-<env>.yml on the parallel node
    (``az ml job create --set`` is load_job's params_override:
    azure-ai-ml azure/ai/ml/_utils/utils.py:load_yaml / entities/_load_functions.py:load_job)."""
    import yaml
    from azure.ai.ml import load_job

    config = yaml.safe_load((REPO / f"config-infra-{env}.yml").read_text())["variables"]
    assert 1 <= int(config["prep_instance_count"]) <= int(config["compute_max_instances"])
    overrides = [
        {"jobs.prep_files.mini_batch_size": str(config["prep_mini_batch_size"])},
        {"jobs.prep_files.resources.instance_count": int(config["prep_instance_count"])},
        {"jobs.prep_files.max_concurrency_per_instance":
            int(config["prep_max_concurrency_per_instance"])},
    ]  # fmt: skip
    spec = REPO / "mlops/azureml/train/pipeline-parallel-prep.yml"
    job = load_job(spec, params_override=overrides)
    node = job.jobs["prep_files"]
    assert node.resources.instance_count == int(config["prep_instance_count"])
    assert node.max_concurrency_per_instance == int(config["prep_max_concurrency_per_instance"])
    assert node.mini_batch_size == int(config["prep_mini_batch_size"]) and node.error_threshold == 0


def test_twin_run_fails_the_parallel_prep_on_a_corrupt_file(
    module_home: Path, tmp_path: Path
) -> None:
    """The per-file job on the twin: a corrupt file among good ones fails the job naming it
    (error_threshold 0); combine and everything after it never run."""
    from mlops.local.runner import run_pipeline

    raw = tmp_path / "raw"
    raw.mkdir()
    for source in sorted((REPO / "data" / "sample").glob("*.csv"))[:3]:
        lines = source.read_text().splitlines()[:40]  # tiny files: the test stays fast
        (raw / source.name).write_text("\n".join(lines) + "\n")
    bad = raw / "yellow_009.csv"
    bad.write_bytes(bytes(range(256)) * 8)
    result = run_pipeline(
        REPO / "mlops/azureml/train/pipeline-parallel-prep.yml", overrides={"raw_data": str(raw)}
    )
    states = {s.name: s.state for s in result.steps}
    assert states["prep_files"] == "failed"
    assert {states[n] for n in ("prep", "train", "evaluate", "register")} == {"skipped"}
    failed = next(s for s in result.steps if s.name == "prep_files")
    log_text = failed.log.read_text()
    assert f"{bad}: not UTF-8" in log_text and "exceed error_threshold 0" in log_text
    summaries = result.run_dir / "prep_files" / "file_summaries"
    assert not (summaries / parallel.APPEND_ROW_FILE).exists()


BATCH_PIPELINE = REPO / "mlops/azureml/deploy/batch/pipeline-batch-score.yml"


def score_folder(tmp_path: Path, bad: int = 0) -> tuple[Path, int]:
    """Three small raw files of the committed sample (40 rows each) and ``bad`` corrupt ones."""
    folder = tmp_path / "to-score"
    folder.mkdir()
    for source in sorted((REPO / "data" / "sample").glob("*.csv"))[:3]:
        lines = source.read_text().splitlines()[:41]
        (folder / source.name).write_text("\n".join(lines) + "\n")
    for index in range(bad):
        (folder / f"yellow_9{index}.csv").write_bytes(bytes(range(256)) * 8)
    return folder, 3 * 40


def test_twin_runs_batch_scoring_as_a_parallel_job_in_a_pipeline(
    module_home: Path, tmp_path: Path, models: dict[str, Path]
) -> None:
    """The batch deployment's batch_score.py as a parallel job: init() once per worker with
    the model input, one row per input row appended to the predictions output."""
    import batch_score

    from mlops.local.runner import run_pipeline

    folder, rows = score_folder(tmp_path, bad=1)  # one corrupt file: within error_threshold 2
    result = run_pipeline(
        BATCH_PIPELINE, overrides={"model": str(models["good"]), "data": str(folder)}
    )
    step = next(s for s in result.steps if s.name == "score")
    assert step.state == "succeeded", step.log.read_text()[-2000:]
    assert "yellow_90.csv" in step.log.read_text()  # the failed item is named in the log
    lines = (result.run_dir / "score/predictions" / parallel.APPEND_ROW_FILE).read_text()
    got = sorted(lines.splitlines())
    assert len(got) == rows and {line.split(",")[0] for line in got} == {
        p.name for p in folder.glob("*.csv") if not p.name.startswith("yellow_9")
    }
    # The same rows as batch_score.py called directly, as a batch deployment would.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AZUREML_MODEL_DIR", str(models["good"]))
        batch_score.init()
        good = sorted(str(p) for p in folder.glob("*.csv") if not p.name.startswith("yellow_9"))
        want = sorted(line for item in good for line in batch_score.run([item]))
    assert got == want


def test_job_sets_reach_the_planned_jobs() -> None:
    """``--set jobs.<job>.<path>=VALUE`` (the emulated ``az ml job create``) lands in the
    twin's plan as it lands in azure-ai-ml's job: the parallel node's settings and a
    node's input; a job the pipeline lacks is refused by name before anything runs."""
    from mlops.errors import MlopsError

    spec = REPO / "mlops/azureml/train/pipeline-parallel-prep.yml"
    pipeline = load_pipeline(spec, job_sets={
        "prep_files.mini_batch_size": "3",
        "prep_files.resources.instance_count": "2",
        "prep_files.max_concurrency_per_instance": "1",
        "train.inputs.n_estimators": "7",
    })  # fmt: skip
    steps = {s.name: s for s in pipeline.steps}
    command = steps["prep_files"].component.command or ""
    for part in ("--mini_batch_size 3", "--instance_count 2", "--workers 1"):
        assert part in command, (part, command)
    assert steps["train"].bindings["n_estimators"] == "7"
    untouched = {s.name: s for s in load_pipeline(spec).steps}
    assert "--mini_batch_size 1" in (untouched["prep_files"].component.command or "")
    with pytest.raises(
        MlopsError, match=r"--set jobs.prepfiles.mini_batch_size: no job 'prepfiles'"
    ):
        load_pipeline(spec, job_sets={"prepfiles.mini_batch_size": "3"})
