"""The az emulator: strict parsing and exit codes, spec semantics, state shape, SDK seam."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mlops.ado.az import ops
from mlops.ado.az.cli import main
from mlops.ado.az.store import Store
from mlops.settings import REPO_ROOT

WS = ["-g", "rg-taxifare-0001stage", "-w", "mlw-taxifare-0001stage"]
ENDPOINT_SPEC = str(REPO_ROOT / "mlops/azureml/deploy/online/online-endpoint.yml")
BATCH_SPEC = str(REPO_ROOT / "mlops/azureml/deploy/batch/batch-endpoint.yml")


@pytest.fixture
def az(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    monkeypatch.setenv("MLOPS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MLOPS_AZURE_EMULATOR", str(tmp_path / "home" / "azure"))
    monkeypatch.setenv("MLOPS_ADO_RUN_DIR", str(tmp_path / "run"))
    monkeypatch.setenv("AZURE_EXTENSION_DIR", str(tmp_path / "ext"))
    monkeypatch.setenv("BUILD_SOURCESDIRECTORY", str(REPO_ROOT))

    def call(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    assert call("extension", "add", "--name", "ml", "--version", "2.38.1", "--yes")[0] == 0
    return call


def test_typos_exit_2_like_the_cli(az) -> None:
    code, _, err = az("ml", "online-endpoint", "shw", "-n", "x", *WS)
    assert code == 2 and "'ml online-endpoint shw' is misspelled or not recognized" in err
    code, _, err = az("ml", "online-endpoint", "show", "-n", "x", "--workspace", "w")
    assert code == 2 and "unrecognized arguments: --workspace w" in err
    code, _, err = az("deployment", "sub", "create", "--name", "x")
    assert code == 2 and "'az deployment' is not emulated" in err


def test_missing_resources_exit_3_with_the_service_message(az) -> None:
    code, out, err = az("ml", "online-endpoint", "show", "-n", "nope", *WS)
    assert (code, out) == (3, "")
    assert err.strip() == (
        "ERROR: (ResourceNotFound) Online endpoint nope not found "
        "in workspace mlw-taxifare-0001stage"
    )
    code, _, err = az("ml", "workspace", "show", "-n", "mlw-nope", "-g", "rg")
    assert code == 3 and "Workspace mlw-nope not found" in err


def test_account_and_version_are_what_the_templates_read(az) -> None:
    code, out, _ = az("account", "show", "--query", "id", "--output", "tsv")
    assert code == 0 and len(out.strip()) == 36
    code, out, _ = az("version", "--output", "json")
    assert json.loads(out)["extensions"] == {"ml": "2.38.1"}


def test_endpoint_update_with_file_replaces_traffic_with_the_files(az) -> None:
    assert az("ml", "online-endpoint", "create", "-n", "ep-s", *WS, "--file", ENDPOINT_SPEC)[0] == 0
    store = Store.open()
    with store.locked() as data:  # a live deployment, as a rollout leaves it
        endpoint = data["workspaces"]["mlw-taxifare-0001stage"]["online_endpoints"]["ep-s"]
        endpoint["deployments"]["blue"] = {"model": "azureml:m:1", "model_dir": "/nowhere"}
        ops.set_traffic(endpoint, {"blue": 100}, "ep-s")
    code, out, _ = az("ml", "online-endpoint", "update", "-n", "ep-s", *WS, "--file", ENDPOINT_SPEC)
    assert code == 0 and json.loads(out)["traffic"] == {}
    state = Store.open().snapshot()["workspaces"]["mlw-taxifare-0001stage"]
    history = [h["traffic"] for h in state["online_endpoints"]["ep-s"]["traffic_history"]]
    assert history == [{"blue": 100}, {}]
    code, _, err = az("ml", "online-endpoint", "create", "-n", "ep-s", *WS, "--file", ENDPOINT_SPEC)
    assert code == 1 and "An endpoint with this name already exists" in err


def test_traffic_must_name_deployments_and_add_up(az) -> None:
    az("ml", "online-endpoint", "create", "-n", "ep-s", *WS, "--file", ENDPOINT_SPEC)
    code, _, err = az(
        "ml", "online-endpoint", "update", "-n", "ep-s", *WS, "--traffic", "green=100"
    )
    assert code == 1 and "traffic names deployments that do not exist in ep-s: green" in err


def test_batch_default_must_exist_and_job_download_layout(az, tmp_path: Path) -> None:
    assert az("ml", "batch-endpoint", "create", "-n", "bep-s", *WS, "--file", BATCH_SPEC)[0] == 0
    code, _, err = az(
        "ml", "batch-endpoint", "update", "-n", "bep-s", *WS, "--set", "defaults.deployment_name=x"
    )
    assert code == 1 and "default deployment x does not exist" in err
    scored = tmp_path / "scored"
    scored.mkdir()
    (scored / "predictions.csv").write_text("file,row,cost\n")
    with Store.open().locked() as data:
        jobs = data["workspaces"]["mlw-taxifare-0001stage"]["jobs"]
        jobs["batchjob_1"] = {
            "name": "batchjob_1",
            "status": "Completed",
            "outputs": {"score": str(scored)},
        }
    dest = tmp_path / "dest"
    code, _, _ = az("ml", "job", "download", "-n", "batchjob_1", *WS, "--output-name", "score",
                    "--download-path", str(dest))  # fmt: skip
    assert code == 0
    assert (dest / "named-outputs" / "score" / "predictions.csv").is_file()
    code, _, err = az("ml", "job", "download", "-n", "batchjob_1", *WS, "--output-name", "scores",
                      "--download-path", str(dest))  # fmt: skip
    assert code == 1 and "has no output 'scores'" in err


def test_state_has_the_issue_shape(az, tmp_path: Path) -> None:
    az("ml", "online-endpoint", "create", "-n", "ep-s", *WS, "--file", ENDPOINT_SPEC)
    done = subprocess.run(
        [sys.executable, "-m", "mlops", "ado", "state", "--json"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    state = json.loads(done.stdout)
    assert set(state) == {"workspaces", "registries"}
    stage = state["workspaces"]["mlw-taxifare-0001stage"]
    assert stage["env"] == "stage"
    assert set(stage) == {"env", "models", "online_endpoints", "batch_endpoints", "jobs"}
    assert set(stage["online_endpoints"]["ep-s"]) == {"traffic", "deployments", "traffic_history"}
    assert state["workspaces"]["mlw-taxifare-0001prod"]["env"] == "prod"
    assert state["registries"] == {"mlr-taxifare-0001": {"models": {}}}


def test_the_sdk_seam_answers_like_azure_ml(az, monkeypatch: pytest.MonkeyPatch) -> None:
    from azure.core.exceptions import ResourceNotFoundError

    import mlops.cli  # noqa: F401  the composition root wires the emulator into the seam
    from mlops.aml_client import WorkspaceRef, ml_client

    ref = WorkspaceRef("sub", "rg-taxifare-0001stage", "mlw-taxifare-0001stage")
    client = ml_client(ref)
    assert type(client).__name__ == "EmulatedMLClient"
    with pytest.raises(ResourceNotFoundError, match="Online endpoint nope not found"):
        client.online_endpoints.get("nope")
    with pytest.raises(ResourceNotFoundError):
        ml_client(WorkspaceRef("sub", "rg-wrong", "mlw-taxifare-0001stage"))
    from azure.ai.ml import load_environment

    env = load_environment(source=str(REPO_ROOT / "mlops/azureml/train/train-env.yml"))
    env.version = None
    created = client.environments.create_or_update(env)
    again = client.environments.create_or_update(env)
    assert (created.version, again.version) == ("1", "2")  # auto-incremented like the service
    assert client.environments.get(env.name, label="latest").version == "2"


DEV = ["-g", "rg-taxifare-0001dev", "-w", "mlw-taxifare-0001dev"]
PIPELINE = str(REPO_ROOT / "mlops/azureml/train/pipeline.yml")


@pytest.fixture
def twin_runs(monkeypatch: pytest.MonkeyPatch) -> list[tuple[dict, str, dict]]:
    """What the emulator hands the local twin (the twin's own run is tested elsewhere)."""
    calls: list[tuple[dict, str, dict]] = []

    def run(job: dict, env: str, overrides: dict) -> dict:
        calls.append((dict(job), env, dict(overrides)))
        job["status"] = "Completed"
        return {}

    monkeypatch.setattr(ops, "run_pipeline_job", run)
    return calls


def test_job_create_runs_the_entity_of_set_and_name(az, twin_runs) -> None:
    """ml_job_create: --set, then --name, as params_override of load_job."""
    assert az("ml", "compute", "create", "-n", "cpu", *DEV, "--size", "Standard_DS3_v2")[0] == 0
    code, out, err = az(
        "ml", "job", "create", "--file", PIPELINE, *DEV, "--name", "train-1",
        "--set", "experiment_name=exp", "settings.default_compute=azureml:cpu",
        "tags.git_commit=abc", "inputs.n_estimators=7",
        "--query", "name", "--output", "tsv",
    )  # fmt: skip
    assert (code, out.strip()) == (0, "train-1"), err
    [(job, env, overrides)] = twin_runs
    assert env == "dev" and overrides == {"n_estimators": "7"}  # as the CLI passes it
    assert (job["experiment_name"], job["compute"], job["tags"]) == (
        "exp", "cpu", {"git_commit": "abc"},
    )  # fmt: skip
    stored = Store.open().read()["workspaces"]["mlw-taxifare-0001dev"]["jobs"]["train-1"]
    assert stored["status"] == "Completed"
    code, _, err = az("ml", "job", "create", "--file", PIPELINE, *DEV, "--name", "train-1",
                      "--set", "settings.default_compute=azureml:cpu")  # fmt: skip
    assert code == 1 and "a job named train-1 already exists" in err
    code, _, err = az("ml", "job", "create", "--file", PIPELINE, *DEV,
                      "--set", "settings.default_compute=azureml:gpu")  # fmt: skip
    assert code == 1 and "compute gpu of job" in err and "not found" in err
    code, _, err = az("ml", "job", "create", "--file", PIPELINE, *DEV, "--nme", "x")
    assert code == 2 and "unrecognized arguments: --nme x" in err
    assert len(twin_runs) == 1  # nothing ran for the refused ones


def test_job_create_hands_the_twin_its_jobs_settings(az, twin_runs) -> None:
    """``--set jobs.<job>.<path>`` (dev-model-training's parallel prep settings) reaches the
    twin, which sets it into that job (tests/mlops/local/test_parallel.py); top-level keys
    stay the entity's."""
    assert az("ml", "compute", "create", "-n", "cpu", *DEV, "--size", "Standard_DS3_v2")[0] == 0
    spec = str(REPO_ROOT / "mlops/azureml/train/pipeline-parallel-prep.yml")
    code, _, err = az(
        "ml", "job", "create", "--file", spec, *DEV, "--name", "prep-1",
        "--set", "settings.default_compute=azureml:cpu", "jobs.prep_files.mini_batch_size=2",
        "jobs.prep_files.resources.instance_count=1", "jobs.train.inputs.n_estimators=7",
    )  # fmt: skip
    assert code == 0, err
    [(job, _, overrides)] = twin_runs
    assert overrides == {}
    assert job["job_sets"] == {"prep_files.mini_batch_size": "2",
                               "prep_files.resources.instance_count": "1",
                               "train.inputs.n_estimators": "7"}  # fmt: skip


def test_sdk_job_create_or_update_runs_the_object_it_is_given(az, twin_runs) -> None:
    from azure.ai.ml import load_job

    from mlops.ado.az import sdk

    az("ml", "compute", "create", "-n", "cpu-cluster", *DEV, "--size", "Standard_DS3_v2")
    client = sdk.client("mlw-taxifare-0001dev")
    job = load_job(source=PIPELINE, params_override=[{"name": "sdk-1"}])
    job.inputs.seed = 7
    made = client.jobs.create_or_update(job, experiment_name="e2", tags={"t": "1"})
    assert (made.name, made.experiment_name, made.tags) == ("sdk-1", "e2", {"t": "1"})
    [(record, _, overrides)] = twin_runs
    assert overrides == {"seed": 7} and record["compute"] == "cpu-cluster"
