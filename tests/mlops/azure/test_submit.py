"""mlops azure submit end to end, through a fake of the one seam to Azure ML.

``mlops.aml_client.ml_client`` is replaced by :class:`FakeMLClient`, which keeps
state like a workspace and answers with the SDK's own entities (PipelineJob, CommandJob
with Azure ML job status values, Environment, Data, AmlCompute, Model, Workspace) and
the SDK's errors. Its ``jobs.download`` writes ``<path>/named-outputs/<output>/`` as
azure-ai-ml 1.35.2 azure/ai/ml/operations/_job_operations.py:download does.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from azure.ai.ml.entities import (
    AmlCompute,
    CommandJob,
    Data,
    Environment,
    JobService,
    Model,
    PipelineJob,
    Workspace,
)
from azure.ai.ml.exceptions import ValidationException
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceNotFoundError,
    ServiceRequestError,
)
from azure.identity import CredentialUnavailableError

from mlops import aml_client
from mlops.azure.assets import FINGERPRINT_TAG
from mlops.azure.submit import client as seam
from mlops.azure.submit.ensure import local_specs
from mlops.azure.submit.spec import TRAIN_DIR
from mlops.cli import main

SUB = "11111111-2222-3333-4444-555555555555"
TERMINAL = {"Completed", "Failed", "Canceled", "NotResponding"}


def _not_found(what: str) -> ResourceNotFoundError:
    return ResourceNotFoundError(message=f"{what} could not be found.")


def _http(status: int, message: str) -> HttpResponseError:
    error = HttpResponseError(message=message)
    error.status_code = status
    return error


def _submit_validation_error(problem: str) -> BaseException:
    """What jobs.create_or_update raises for a job that fails validation: the SDK's own
    log_and_raise_error turns the ValidationException into a terminal-formatted MlException."""
    from azure.ai.ml._exception_helper import log_and_raise_error
    from azure.ai.ml.exceptions import ErrorTarget, ValidationErrorType

    error = ValidationException(
        message=problem,
        no_personal_data_message=problem,
        error_type=ValidationErrorType.INVALID_VALUE,
        target=ErrorTarget.PIPELINE,
    )
    try:
        log_and_raise_error(error)
    except Exception as raised:  # the SDK's exception is the value we want
        return raised
    raise AssertionError("log_and_raise_error always raises")


class Poller:
    """What ``begin_*`` returns: ``result()`` waits for the operation (LROPoller)."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def result(self) -> Any:
        return self.value


class Ops:
    """Failure injection: the calls of ``op`` raise ``fail[op]`` in turn (None = succeed)."""

    def __init__(self, fake: FakeMLClient, prefix: str) -> None:
        self.fake = fake
        self.prefix = prefix

    def _maybe_fail(self, op: str) -> None:
        queue = self.fake.fail.get(f"{self.prefix}.{op}")
        error = queue.pop(0) if queue else None
        if error is not None:
            raise error


class WorkspaceOps(Ops):
    def get(self, name: str | None = None, **kwargs: Any) -> Workspace:
        self._maybe_fail("get")
        if name != self.fake.ref.workspace:
            raise _not_found(f"Workspace {name}")
        return Workspace(name=name, resource_group=self.fake.ref.resource_group)


class AssetOps(Ops):
    """environments / data: versions by name; ``label='latest'`` is the highest."""

    def __init__(self, fake: FakeMLClient, prefix: str) -> None:
        super().__init__(fake, prefix)
        self.items: dict[str, dict[str, Any]] = {}

    def add(self, entity: Any) -> None:
        self.items.setdefault(entity.name, {})[str(entity.version)] = entity

    def get(self, name: str, version: str | None = None, label: str | None = None) -> Any:
        self._maybe_fail("get")
        versions = self.items.get(name, {})
        if version is not None and version in versions:
            return versions[version]
        if label == "latest" and versions:
            return versions[max(versions, key=int)]
        raise _not_found(f"{self.prefix} {name}:{version or label}")

    def create_or_update(self, entity: Any) -> Any:
        self._maybe_fail("create_or_update")
        versions = self.items.get(entity.name, {})
        entity.version = str(entity.version or max(map(int, versions), default=0) + 1)
        self.add(entity)
        self.fake.created.append(f"{self.prefix} {entity.name}:{entity.version}")
        return entity


class ComputeOps(Ops):
    def __init__(self, fake: FakeMLClient) -> None:
        super().__init__(fake, "compute")
        self.items: dict[str, AmlCompute] = {}

    def get(self, name: str) -> AmlCompute:
        self._maybe_fail("get")
        if name not in self.items:
            raise _not_found(f"Compute {name}")
        return self.items[name]

    def begin_create_or_update(self, compute: AmlCompute) -> Poller:
        self._maybe_fail("begin_create_or_update")
        self.items[compute.name] = compute
        self.fake.created.append(f"compute {compute.name}")
        return Poller(compute)


class JobOps(Ops):
    """Plays back a status script for the submitted job; steps follow the job's status."""

    def __init__(self, fake: FakeMLClient) -> None:
        super().__init__(fake, "jobs")
        self.submitted: list[PipelineJob] = []
        self.statuses: list[str] = ["NotStarted", "Running", "Completed"]
        self.gets = 0
        self.cancelled: list[str] = []
        self.outputs: dict[str, dict[str, dict[str, Any]]] = {}
        self.downloads: list[tuple[str, str | None]] = []

    def _studio(self, name: str) -> dict[str, JobService]:
        return {"Studio": JobService(endpoint=f"https://ml.azure.com/runs/{name}?wsid=fake")}

    def create_or_update(self, job: PipelineJob, **kwargs: Any) -> PipelineJob:
        self._maybe_fail("create_or_update")  # a refused job is not kept
        self.submitted.append(job)
        self.fake.created.append(f"job {job.name}")
        return PipelineJob(
            name=job.name,
            status="NotStarted",
            experiment_name=job.experiment_name,
            services=self._studio(job.name),
        )

    def _status(self) -> str:
        return self.statuses[min(self.gets, len(self.statuses) - 1)]

    def get(self, name: str) -> PipelineJob:
        self._maybe_fail("get")
        if not self.submitted or name != self.submitted[-1].name:
            if name in self._children():
                return self._child(name)
            raise _not_found(f"Job {name}")
        self.gets += 1
        return PipelineJob(name=name, status=self._status(), services=self._studio(name))

    def _children(self) -> dict[str, str]:
        job = self.submitted[-1]
        return {f"{job.name}_{step}": step for step in job.jobs}

    def _child(self, name: str) -> CommandJob:
        status = self._status()
        return CommandJob(name=name, display_name=self._children()[name], status=status)

    def list(self, parent_job_name: str | None = None, **kwargs: Any) -> list[CommandJob]:
        self._maybe_fail("list")
        return [self._child(name) for name in self._children()]

    def download(self, name: str, *, download_path: Any, output_name: str | None = None) -> None:
        self._maybe_fail("download")
        child = self._child(name)
        if child.status not in TERMINAL:
            raise ValidationException(
                message=f"job {name} is {child.status}", no_personal_data_message="x"
            )
        self.downloads.append((str(child.display_name), output_name))
        files = self.outputs.get(str(child.display_name), {}).get(str(output_name))
        if files is None:
            return  # the SDK downloads nothing for an output the job did not write
        folder = Path(download_path) / "named-outputs" / str(output_name)
        folder.mkdir(parents=True)
        for filename, content in files.items():
            text = content if isinstance(content, str) else json.dumps(content)
            (folder / filename).write_text(text, encoding="utf-8")

    def begin_cancel(self, name: str) -> Poller:
        self.cancelled.append(name)
        return Poller(None)


class ModelOps(Ops):
    def __init__(self, fake: FakeMLClient) -> None:
        super().__init__(fake, "models")
        self.items: dict[tuple[str, str], Model] = {}

    def get(self, name: str, version: str | None = None, label: str | None = None) -> Model:
        self._maybe_fail("get")
        if (name, str(version)) not in self.items:
            raise _not_found(f"Model {name}:{version}")
        return self.items[(name, str(version))]


class FakeMLClient:
    def __init__(self, ref: aml_client.WorkspaceRef) -> None:
        self.ref = ref
        self.fail: dict[str, list[BaseException]] = {}
        self.created: list[str] = []
        self.workspaces = WorkspaceOps(self, "workspaces")
        self.environments = AssetOps(self, "environment")
        self.data = AssetOps(self, "data")
        self.compute = ComputeOps(self)
        self.jobs = JobOps(self)
        self.models = ModelOps(self)


def _decision(promote: bool, reason: str, champion: int | None = 3) -> dict[str, Any]:
    """decision.json as the evaluate step writes it (every key of a ``Decision``)."""
    from taxi_fare.gate import GatePolicy, decide

    metrics = {"root_mean_squared_error": 3.1, "mean_absolute_error": 2.0, "r2_score": 0.9,
               "mean_absolute_percentage_error": 0.1}  # fmt: skip
    made = decide(metrics, metrics, GatePolicy(), champion).to_dict()
    return {**made, "promote": promote, "reason": reason}


def _info(registered: bool, version: int | None, reason: str) -> dict[str, Any]:
    return {"registered": registered, "name": "taxi-fare", "version": version, "run_id": "r1",
            "reason": reason}  # fmt: skip


@pytest.fixture
def azure(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The seam replaced: every ml_client() call is recorded and gets one shared fake."""
    state: dict[str, Any] = {"refs": [], "fake": None}

    def factory(ref: aml_client.WorkspaceRef, credential: Any = None) -> FakeMLClient:
        state["refs"].append(ref)
        if state["fake"] is None or state["fake"].ref != ref:
            state["fake"] = FakeMLClient(ref)
            state["setup"](state["fake"])
        return state["fake"]

    def standard(fake: FakeMLClient) -> None:
        # every environment spec of the repository is registered (at the version it pins, if
        # any: automl-env.yml pins 1) and matches its fingerprint
        for (kind, name), env_spec in local_specs([TRAIN_DIR]).items():
            if kind == "environment":
                fake.environments.add(
                    Environment(
                        name=name,
                        version=env_spec.version or "3",
                        image="mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest",
                        tags={FINGERPRINT_TAG: env_spec.fingerprint},
                    )
                )
        fake.jobs.outputs = {
            "evaluate": {
                "evaluation_output": {
                    "decision.json": _decision(True, "rmse 3.10 beats champion 3.40"),
                    "report.md": "# report\n",
                }
            },
            "register": {"model_info_output": {"model_info.json": _info(True, 4, "promoted")}},
        }
        fake.models.items[("taxi-fare", "4")] = Model(name="taxi-fare", version="4")

    state["setup"] = standard
    state["credentials"] = []
    monkeypatch.setattr(aml_client, "ml_client", factory)
    # The fake needs no token; building a real DefaultAzureCredential is covered below.
    monkeypatch.setattr(seam, "default_credential", lambda: state["credentials"].append(1))
    monkeypatch.delenv("AML_SUBSCRIPTION_ID", raising=False)
    monkeypatch.delenv("AZURE_SUBSCRIPTION_ID", raising=False)
    return state


def _run(args: list[str], capsys: pytest.CaptureFixture[str], tmp_path: Path) -> tuple:
    argv = ["azure", "submit", "--subscription", SUB, "--poll-seconds", "0", *args]
    if "--download-dir" not in args:
        argv += ["--download-dir", str(tmp_path / "outputs")]
    try:
        main(argv)
        code = 0
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def test_happy_path_waits_and_prints_the_gate_and_registered_version(
    azure: dict[str, Any], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    summary_file = tmp_path / "summary.json"
    code, out, err = _run(
        ["--trainer", "random_forest", "--summary-json", str(summary_file)], capsys, tmp_path
    )
    assert code == 0, err
    fake = azure["fake"]
    assert azure["credentials"] == [1]  # one credential, handed to the seam
    assert azure["refs"][0] == aml_client.WorkspaceRef(
        SUB, "rg-taxifare-0001dev", "mlw-taxifare-0001dev"
    )
    (job,) = fake.jobs.submitted
    assert isinstance(job, PipelineJob)
    assert job.display_name == "taxi-fare-train-rf"
    assert job.experiment_name == "taxi-fare-train"
    assert job.settings.default_compute == "cpu-cluster"
    assert job.tags["submitted_with"] == "mlops azure submit"
    assert job.name.startswith("taxi-fare-train-")
    # environment matched its fingerprint (kept); data and compute were missing (created)
    assert fake.created == ["data taxi-fare-raw:1", "compute cpu-cluster", f"job {job.name}"]
    cluster = fake.compute.items["cpu-cluster"]
    assert isinstance(cluster, AmlCompute)
    assert (cluster.size, cluster.min_instances, cluster.max_instances) == ("Standard_DS3_v2", 0, 2)
    identity = cluster.identity.user_assigned_identities[0].resource_id
    assert identity == (
        f"/subscriptions/{SUB}/resourceGroups/rg-taxifare-0001dev/providers/"
        "Microsoft.ManagedIdentity/userAssignedIdentities/id-taxifare-0001dev-compute"
    )
    assert isinstance(fake.data.items["taxi-fare-raw"]["1"], Data)
    assert fake.jobs.downloads == [
        ("evaluate", "evaluation_output"),
        ("register", "model_info_output"),
    ]
    assert "environment taxi-fare-train-env:3 (exists)" in out
    assert f"submitted job {job.name}: https://ml.azure.com/runs/{job.name}?wsid=fake" in out
    assert f"job {job.name}: Completed" in out
    assert "gate: promote: rmse 3.10 beats champion 3.40" in out
    assert "registered taxi-fare version 4 in dev (workspace mlw-taxifare-0001dev)" in out
    summary = json.loads(summary_file.read_text(encoding="utf-8"))
    assert summary["job"] == job.name
    assert summary["status"] == "Completed"
    assert summary["gate"] == {
        "promote": True,
        "reason": "rmse 3.10 beats champion 3.40",
        "champion_version": 3,
    }
    assert summary["model"] == {
        "name": "taxi-fare",
        "version": 4,
        "registered": True,
        "reason": "promoted",
    }
    assert (Path(summary["outputs"]) / "evaluate" / "decision.json").is_file()


def test_a_rerun_creates_nothing_new_but_the_job(
    azure: dict[str, Any], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    first, _, err = _run(["--trainer", "random_forest", "--no-wait"], capsys, tmp_path)
    assert first == 0, err
    fake = azure["fake"]
    created = list(fake.created)
    again, out, err = _run(["--trainer", "random_forest", "--no-wait"], capsys, tmp_path)
    assert again == 0, err
    assert len(fake.jobs.submitted) == 2
    assert fake.created == [*created, f"job {fake.jobs.submitted[1].name}"]
    assert "data taxi-fare-raw:1 (exists)" in out
    assert "compute cpu-cluster (Standard_DS3_v2, exists)" in out


def test_automl_trainer_and_set_reach_the_submitted_job(
    azure: dict[str, Any], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = _run(
        ["--set", "seed=7", "--set", "jobs.train.limits.max_trials=4", "--no-wait"],
        capsys,
        tmp_path,
    )
    assert code == 0, err
    (job,) = azure["fake"].jobs.submitted
    assert job.display_name == "taxi-fare-train-automl"
    assert job.inputs["seed"].result() == 7
    assert type(job.jobs["train"]).__name__ == "RegressionJob"
    assert job.jobs["train"].limits.max_trials == 4


def test_data_name_at_version_is_shown_and_set_on_the_job(
    azure: dict[str, Any], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    def setup(fake: FakeMLClient) -> None:
        standard_setup(fake)
        fake.data.add(Data(name="taxi-fare-raw", version="2", path="azureml://datastores/x"))

    standard_setup = azure["setup"]
    azure["setup"] = setup
    code, out, err = _run(["--data", "taxi-fare-raw@2", "--no-wait"], capsys, tmp_path)
    assert code == 0, err
    fake = azure["fake"]
    (job,) = fake.jobs.submitted
    assert job.inputs["raw_data"].result().path == "taxi-fare-raw:2"
    assert not [c for c in fake.created if c.startswith("data")]  # a pinned version is not created
    assert "data taxi-fare-raw:2 (exists)" in out


def test_data_path_is_set_on_the_job_and_no_asset_is_made(
    azure: dict[str, Any], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    folder = tmp_path / "trips"
    folder.mkdir()
    (folder / "green_1.csv").write_text("a\n1\n", encoding="utf-8")
    code, _, err = _run(["--data", str(folder), "--no-wait"], capsys, tmp_path)
    assert code == 0, err
    fake = azure["fake"]
    (job,) = fake.jobs.submitted
    assert job.inputs["raw_data"].result().path == str(folder)
    assert fake.data.items == {}


def test_no_wait_prints_name_and_url_and_does_not_follow(
    azure: dict[str, Any], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    summary_file = tmp_path / "s.json"
    code, out, err = _run(["--no-wait", "--summary-json", str(summary_file)], capsys, tmp_path)
    assert code == 0, err
    fake = azure["fake"]
    (job,) = fake.jobs.submitted
    assert fake.jobs.gets == 0 and fake.jobs.downloads == []
    assert f"submitted job {job.name}: https://ml.azure.com/runs/{job.name}" in out
    assert f"az ml job stream --name {job.name}" in out
    summary = json.loads(summary_file.read_text(encoding="utf-8"))
    assert (summary["job"], summary["status"], summary["gate"]) == (job.name, "NotStarted", None)


def test_ctrl_c_detaches_without_cancelling_and_says_how_to_reattach(
    azure: dict[str, Any], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    def setup(fake: FakeMLClient) -> None:
        standard_setup(fake)
        fake.jobs.statuses = ["Running"]
        fake.fail["jobs.list"] = [None, KeyboardInterrupt()]  # the second poll is interrupted

    standard_setup = azure["setup"]
    azure["setup"] = setup
    code, out, _ = _run(["--summary-json", str(tmp_path / "s.json")], capsys, tmp_path)
    fake = azure["fake"]
    (job,) = fake.jobs.submitted
    assert code == 130
    assert fake.jobs.cancelled == []
    assert f"detached; job {job.name} keeps running (not cancelled)." in out
    assert (
        f"reattach: az ml job stream --name {job.name} --subscription {SUB} "
        "--resource-group rg-taxifare-0001dev --workspace-name mlw-taxifare-0001dev"
    ) in out
    assert json.loads((tmp_path / "s.json").read_text())["status"] == "detached"


def _one_line_error(code: int, err: str) -> str:
    assert code == 1
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    return lines[0]


@pytest.mark.parametrize(
    ("op", "error", "expected"),
    [
        (
            "workspaces.get",
            CredentialUnavailableError("Azure CLI not found on path"),
            "workspace mlw-taxifare-0001dev: not signed in to Azure (Azure CLI not found on path);"
            " run `az login`",
        ),
        (
            "workspaces.get",
            ClientAuthenticationError("DefaultAzureCredential failed to retrieve a token"),
            "not signed in to Azure (DefaultAzureCredential failed to retrieve a token); run",
        ),
        (
            "workspaces.get",
            _http(403, "AuthorizationFailed: does not have authorization to perform action"),
            "no access to workspace mlw-taxifare-0001dev (resource group rg-taxifare-0001dev, "
            f"subscription {SUB}); ask for the 'AzureML Data Scientist' role",
        ),
        (
            "workspaces.get",
            _not_found("Workspace mlw-taxifare-0001dev"),
            "workspace mlw-taxifare-0001dev: not found (Workspace mlw-taxifare-0001dev could not "
            "be found.); check the names in config-infra-<env>.yml",
        ),
        (
            "environment.get",
            _http(403, "AuthorizationFailed"),
            "environment taxi-fare-train-env@latest: no access to workspace",
        ),
        (
            "jobs.create_or_update",
            _submit_validation_error("Input seed must be an integer"),
            "invalid job: Input seed must be an integer",
        ),
        (
            "jobs.create_or_update",
            ServiceRequestError("Connection refused"),
            "cannot reach Azure (Connection refused); check the network or proxy",
        ),
    ],
)
def test_errors_a_user_can_cause_end_in_one_line(
    azure: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    op: str,
    error: BaseException,
    expected: str,
) -> None:
    def setup(fake: FakeMLClient) -> None:
        standard_setup(fake)
        fake.fail[op] = [error]

    standard_setup = azure["setup"]
    azure["setup"] = setup
    summary_file = tmp_path / "s.json"
    code, out, err = _run(["--summary-json", str(summary_file)], capsys, tmp_path)
    line = _one_line_error(code, err)
    assert expected in line
    fake = azure["fake"]
    if op == "jobs.create_or_update":
        # what was made before the refused submit is named on the way
        assert fake.created == ["data taxi-fare-raw:1", "compute cpu-cluster"]
        assert "data taxi-fare-raw:1 (created)" in out
        assert "compute cpu-cluster (Standard_DS3_v2, created)" in out
    else:
        assert fake.created == []  # nothing made before the failure
    assert fake.jobs.submitted == []
    assert not summary_file.exists()


def test_a_missing_compute_other_than_the_cluster_of_the_env_is_not_invented(
    azure: dict[str, Any], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = _run(["--set", "jobs.train.compute=azureml:gpu-cluster"], capsys, tmp_path)
    line = _one_line_error(code, err)
    assert "compute gpu-cluster: not found (Compute gpu-cluster could not be found.)" in line
    assert "create it (az ml compute create --name gpu-cluster --type amlcompute)" in line
    assert "gpu-cluster" not in azure["fake"].compute.items
    assert azure["fake"].jobs.submitted == []


def test_losing_access_while_following_says_the_job_runs_on(
    azure: dict[str, Any], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    def setup(fake: FakeMLClient) -> None:
        standard_setup(fake)
        fake.fail["jobs.get"] = [None, _http(403, "AuthorizationFailed")]

    standard_setup = azure["setup"]
    azure["setup"] = setup
    summary_file = tmp_path / "s.json"
    code, _, err = _run(["--summary-json", str(summary_file)], capsys, tmp_path)
    line = _one_line_error(code, err)
    job = azure["fake"].jobs.submitted[0].name
    assert f"job {job}: no access to workspace mlw-taxifare-0001dev" in line
    assert f"the job keeps running: az ml job stream --name {job}" in line
    assert azure["fake"].jobs.cancelled == []
    assert json.loads(summary_file.read_text())["status"].startswith("unknown")


def test_a_missing_data_version_names_it_and_submits_nothing(
    azure: dict[str, Any], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = _run(["--data", "taxi-fare-raw@9"], capsys, tmp_path)
    line = _one_line_error(code, err)
    assert "data taxi-fare-raw:9: not found" in line
    assert "register it (az ml data create) or change the reference in pipeline-automl.yml" in line
    assert azure["fake"].jobs.submitted == []
    assert azure["fake"].created == []


def test_a_yaml_error_stops_before_azure_is_called(
    azure: dict[str, Any], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bad = tmp_path / "pipeline.yml"
    bad.write_text("type: pipeline\njobs:\n  prep: [\n", encoding="utf-8")
    code, _, err = _run(["--pipeline", str(bad)], capsys, tmp_path)
    line = _one_line_error(code, err)
    assert f"{bad}:4:1: invalid YAML" in line
    assert azure["refs"] == []


def test_an_unknown_set_name_stops_before_azure_is_called(
    azure: dict[str, Any], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = _run(["--set", "seeed=3"], capsys, tmp_path)
    assert "--set seeed: pipeline-automl.yml has no input 'seeed'" in _one_line_error(code, err)
    assert azure["refs"] == []


def test_interrupt_while_submitting_names_the_job_to_check(
    azure: dict[str, Any], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    def setup(fake: FakeMLClient) -> None:
        standard_setup(fake)
        fake.fail["jobs.create_or_update"] = [KeyboardInterrupt()]

    standard_setup = azure["setup"]
    azure["setup"] = setup
    code, out, err = _run([], capsys, tmp_path)
    line = _one_line_error(code, err)
    name = out.split("submitted job ")[-1] if "submitted job" in out else None
    assert name is None
    assert "interrupted while submitting job taxi-fare-train-" in line
    assert "it may exist; check: az ml job show --name taxi-fare-train-" in line


def test_a_failed_job_exits_non_zero_with_where_to_look(
    azure: dict[str, Any], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    def setup(fake: FakeMLClient) -> None:
        standard_setup(fake)
        fake.jobs.statuses = ["Running", "Failed"]

    standard_setup = azure["setup"]
    azure["setup"] = setup
    summary_file = tmp_path / "s.json"
    code, _, err = _run(["--summary-json", str(summary_file)], capsys, tmp_path)
    line = _one_line_error(code, err)
    job = azure["fake"].jobs.submitted[0].name
    assert f"job {job} ended Failed; see https://ml.azure.com/runs/{job}" in line
    assert f"az ml job download --name {job} --all" in line
    assert azure["fake"].jobs.downloads == []
    assert json.loads(summary_file.read_text())["status"] == "Failed"


def test_no_promotion_is_reported_as_not_registered(
    azure: dict[str, Any], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    def setup(fake: FakeMLClient) -> None:
        standard_setup(fake)
        fake.jobs.outputs["evaluate"]["evaluation_output"]["decision.json"] = _decision(
            False, "rmse 3.50 does not beat champion 3.40"
        )
        fake.jobs.outputs["register"]["model_info_output"]["model_info.json"] = _info(
            False, None, "rmse 3.50 does not beat champion 3.40"
        )

    standard_setup = azure["setup"]
    azure["setup"] = setup
    code, out, err = _run([], capsys, tmp_path)
    assert code == 0, err
    assert "gate: no promotion: rmse 3.50 does not beat champion 3.40" in out
    assert "not registered: rmse 3.50 does not beat champion 3.40" in out


def test_a_registration_the_workspace_does_not_hold_fails_closed(
    azure: dict[str, Any], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    def setup(fake: FakeMLClient) -> None:
        standard_setup(fake)
        fake.models.items.clear()

    standard_setup = azure["setup"]
    azure["setup"] = setup
    summary_file = tmp_path / "s.json"
    code, out, err = _run(["--summary-json", str(summary_file)], capsys, tmp_path)
    line = _one_line_error(code, err)
    summary = json.loads(summary_file.read_text(encoding="utf-8"))
    assert (summary["status"], summary["error"]) == ("Completed", line.removeprefix("error: "))
    assert "model taxi-fare:4: not found" in line
    assert "model_info.json says taxi-fare:4 was registered, but the workspace lacks it" in line
    assert "registered taxi-fare version" not in out


def test_a_transient_status_error_is_retried(
    azure: dict[str, Any], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    def setup(fake: FakeMLClient) -> None:
        standard_setup(fake)
        fake.fail["jobs.get"] = [ServiceRequestError("connection reset"), None]

    standard_setup = azure["setup"]
    azure["setup"] = setup
    code, out, err = _run([], capsys, tmp_path)
    assert code == 0, err
    assert "gate: promote" in out


@pytest.mark.parametrize("env", ["stage", "prod"])
def test_env_and_overrides_choose_the_workspace(
    azure: dict[str, Any], capsys: pytest.CaptureFixture[str], tmp_path: Path, env: str
) -> None:
    code, _, err = _run(["--env", env, "--no-wait"], capsys, tmp_path)
    assert code == 0, err
    assert azure["refs"][-1] == aml_client.WorkspaceRef(
        SUB, f"rg-taxifare-0001{env}", f"mlw-taxifare-0001{env}"
    )
    code, _, err = _run(
        ["--env", env, "--resource-group", "rg-x", "--workspace", "mlw-x", "--no-wait"],
        capsys,
        tmp_path,
    )
    assert code == 0, err
    assert azure["refs"][-1] == aml_client.WorkspaceRef(SUB, "rg-x", "mlw-x")


def test_the_credential_is_default_azure_credential() -> None:
    """Covers az login, managed identity and workload identity; building it does no I/O."""
    from azure.identity import DefaultAzureCredential

    assert isinstance(seam.default_credential(), DefaultAzureCredential)


def test_the_terminal_display_shows_the_job_and_each_step() -> None:
    import io
    import itertools

    from rich.console import Console

    from mlops.azure.submit.follow import RichJobDisplay

    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=80, color_system=None)
    clock = itertools.chain([1000.0], itertools.repeat(1075.0)).__next__  # start, then +75 s
    display = RichJobDisplay("job-1", ["prep", "train"], console=console, clock=clock)
    display.update("Running", {"prep": "Completed", "train": "Running"})
    display.close()
    text = buffer.getvalue()
    assert "job job-1  Running  1:15" in text
    assert any(line.split() == ["prep", "Completed"] for line in text.splitlines())
    assert any(line.split() == ["train", "Running"] for line in text.splitlines())


def test_the_plain_display_prints_changes_only() -> None:
    import io

    from rich.console import Console

    from mlops.azure.submit.follow import RichJobDisplay

    buffer = io.StringIO()
    display = RichJobDisplay("job-1", ["prep"], console=Console(file=buffer, width=80))
    display.update("Running", {"prep": "Running"})
    display.update("Running", {"prep": "Running"})
    display.update("Completed", {"prep": "Completed"})
    assert buffer.getvalue().splitlines() == [
        "job job-1: Running",
        "  prep: Running",
        "job job-1: Completed",
        "  prep: Completed",
    ]
