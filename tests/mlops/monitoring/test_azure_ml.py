"""The Azure side of monitoring against MLClient-shaped fakes (no Azure reachable here)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
from azure.ai.ml.entities import MonitorSchedule
from azure.core.exceptions import ResourceNotFoundError

from mlops import settings
from mlops.monitoring import azure_ml
from mlops.registry.releases import ModelRelease

RELEASE = ModelRelease("taxi-fare", 7, "mlr-taxifare-0001")
DEV = ("sub-1", "rg-dev", "mlw-dev")


class _Poller:
    def __init__(self, value=None):
        self.value = value

    def result(self):
        return self.value


class _Schedules:
    def __init__(self, existing=()):
        self.existing, self.applied, self.toggled = set(existing), [], []

    def get(self, name):
        if name not in self.existing:
            raise ResourceNotFoundError(f"schedule {name} not found")
        return SimpleNamespace(name=name)

    def begin_create_or_update(self, schedule):
        self.applied.append(schedule)
        return _Poller(schedule)

    def begin_enable(self, name):
        self.toggled.append(("enable", name))
        return _Poller()

    def begin_disable(self, name):
        self.toggled.append(("disable", name))
        return _Poller()


class _Data:
    def __init__(self, existing=()):
        self.existing, self.created = set(existing), []

    def get(self, name, version):
        if (name, version) not in self.existing:
            raise ResourceNotFoundError("not found")

    def create_or_update(self, data):
        self.created.append(data)


def _workspace(traffic, data=(), schedules=()):
    return SimpleNamespace(
        online_endpoints=SimpleNamespace(get=lambda name: SimpleNamespace(traffic=traffic)),
        data=_Data(data), schedules=_Schedules(schedules),
    )  # fmt: skip


def _dev(children):
    downloads = []
    jobs = SimpleNamespace(
        list=lambda parent_job_name: children.get(parent_job_name, []),
        download=lambda name, download_path, output_name: downloads.append(
            (name, download_path, output_name)
        ),
    )
    return SimpleNamespace(jobs=jobs, downloads=downloads)


def _registry(tags):
    model = SimpleNamespace(tags=tags)
    return SimpleNamespace(models=SimpleNamespace(get=lambda name, version: model))


CHILDREN = {"run-1": [SimpleNamespace(display_name="train", name="j-train"),
                      SimpleNamespace(display_name="prep", name="j-prep")]}  # fmt: skip


def test_apply_monitor_registers_the_training_split_and_upserts_the_schedule(tmp_path):
    ml = _workspace({"blue": 0, "green": 100})
    out = tmp_path / "monitor.yml"
    azure_ml.apply_monitor(ml, _dev(CHILDREN), _registry({"pipeline_run_id": "run-1"}), RELEASE,
                           "prod", "ep-taxifare-0001prod", "ops@contoso.com", DEV, out)  # fmt: skip
    (asset,) = ml.data.created
    assert (asset.name, asset.version, asset.type) == ("taxi-fare-train", "7", "mltable")
    assert asset.path == (
        "azureml://subscriptions/sub-1/resourcegroups/rg-dev/workspaces/mlw-dev"
        "/datastores/workspaceblobstore/paths/azureml/j-prep/train_data/"
    )
    (schedule,) = ml.schedules.applied
    assert isinstance(schedule, MonitorSchedule)
    target = schedule.create_monitor.monitoring_target.endpoint_deployment_id
    assert target == "azureml:ep-taxifare-0001prod:green"
    assert schedule.create_monitor.alert_notification.emails == ["ops@contoso.com"]
    assert "azureml:taxi-fare-train:7" in out.read_text()


def test_apply_monitor_leaves_an_existing_asset_alone(tmp_path):
    ml = _workspace({"blue": 100}, data={("taxi-fare-train", "7")},
                    schedules={"taxi-fare-monitor-stage"})  # fmt: skip
    azure_ml.apply_monitor(ml, _dev({}), _registry({}), RELEASE, "stage", "ep-x", "a@b.io", DEV,
                           tmp_path / "m.yml")  # fmt: skip
    assert ml.data.created == [] and len(ml.schedules.applied) == 1


def test_lineage_problems_are_named(tmp_path):
    ml = _workspace({"blue": 100})
    with pytest.raises(Exception, match="no pipeline_run_id tag"):
        azure_ml.apply_monitor(ml, _dev({}), _registry({}), RELEASE, "stage", "ep-x", "a@b.io",
                               DEV, tmp_path / "m.yml")  # fmt: skip
    with pytest.raises(Exception, match="no prep step"):
        azure_ml.prep_job(_dev({"run-2": []}), _registry({"pipeline_run_id": "run-2"}), RELEASE)
    assert not (tmp_path / "m.yml").exists()


@pytest.mark.parametrize(("enabled", "action"), [(False, "disable"), (True, "enable")])
def test_training_schedule_is_applied_then_toggled(enabled, action):
    ml = _workspace({})
    path = settings.REPO_ROOT / "mlops" / "azureml" / "train" / "schedule.yml"
    azure_ml.apply_training_schedule(ml, path, enabled)
    assert ml.schedules.toggled == [(action, "taxi-fare-training-weekly")]


def test_collected_prefix_follows_the_documented_layout():
    day = datetime(2026, 12, 1, tzinfo=UTC)
    assert azure_ml.collected_prefix("ep", "blue", day) == (
        "modelDataCollector/ep/blue/model_inputs/2026/12/01/"
    )


def test_check_drift_without_requests_downloads_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(azure_ml, "download_collected", lambda *a: 0)
    dev = _dev(CHILDREN)
    result = azure_ml.check_drift(_workspace({"blue": 100}), dev, _registry({}), RELEASE,
                                  "stage", "ep", tmp_path)  # fmt: skip
    assert result is None and dev.downloads == []


def test_check_drift_judges_the_downloads(tmp_path, monkeypatch, trips, baseline, tiny_model):
    import shutil

    shifted = trips(3_000, 51, distance_scale=1.6).features

    def collected(ml, endpoint, deployment, day, to: Path) -> int:
        assert (endpoint, deployment) == ("ep", "green")
        to.mkdir(parents=True)
        shifted.to_parquet(to / "part.parquet")
        return 1

    def job_download(name, download_path, output_name):
        assert (name, output_name) == ("j-prep", "train_data")
        Path(download_path).mkdir(parents=True)
        baseline.features.assign(cost=baseline.labels).to_parquet(f"{download_path}/data.parquet")

    def model_download(name, version, download_path):
        shutil.copytree(tiny_model, Path(download_path) / name / "model")

    monkeypatch.setattr(azure_ml, "download_collected", collected)
    import mlops.monitoring.run as monitor_run

    found_model = []

    def predict(model_dir, frame):  # the real model path is covered by test_cli.py
        found_model.extend(model_dir.rglob("MLmodel"))
        return 3.0 + 2.5 * frame["distance"].to_numpy()

    monkeypatch.setattr(monitor_run, "_predict", predict)
    from mlops.monitoring import report

    reports = []  # the report itself is covered by test_cli.py; plotting costs seconds
    monkeypatch.setattr(report, "write_report", lambda folder, results, *a: reports.append(
        (folder, {(r.signal, r.feature) for r in results if r.breached})))  # fmt: skip
    dev = _dev(CHILDREN)
    dev.jobs.download = job_download
    registry = _registry({"pipeline_run_id": "run-1"})
    registry.models.download = model_download
    breached = azure_ml.check_drift(_workspace({"blue": 10, "green": 90}), dev, registry,
                                    RELEASE, "stage", "ep", tmp_path)  # fmt: skip
    assert breached is True and found_model  # scored with the downloaded model folder
    ((folder, flagged),) = reports
    assert folder == tmp_path / "report" and ("data_drift", "distance") in flagged
