"""The Azure ML specs: they load with azure-ai-ml as `az ml schedule create` loads them,
`mlops validate` knows them, and the local monitor reads the thresholds Azure ML reads."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from azure.ai.ml.entities import JobSchedule, MonitorSchedule
from azure.ai.ml.entities._load_functions import load_schedule

from mlops import settings
from mlops.checks.aml_load import _load_schedule
from mlops.errors import MlopsError
from mlops.monitoring.render import render_monitor_spec
from mlops.monitoring.spec import load_monitor_spec, spec_path

MONITORS = [spec_path(env) for env in settings.ENVIRONMENTS]
SCHEDULE = settings.REPO_ROOT / "mlops" / "azureml" / "train" / "schedule.yml"


@pytest.mark.parametrize("path", MONITORS, ids=lambda p: p.name)
def test_monitor_spec_loads_and_matches_what_the_local_monitor_reads(path: Path):
    entity = load_schedule(str(path))
    assert isinstance(entity, MonitorSchedule)
    assert entity.trigger.frequency == "day" and entity.trigger.interval == 1
    entity._to_rest_object()  # what begin_create_or_update sends
    ours = load_monitor_spec(path)
    sdk = entity.create_monitor.monitoring_signals
    assert {s.name for s in ours.signals} == set(sdk)
    for signal in ours.signals:
        thresholds = sdk[signal.name].metric_thresholds
        for kind, mine in (("numerical", signal.numerical), ("categorical", signal.categorical)):
            block = getattr(thresholds, kind)
            if block is None:
                assert mine == {}
                continue
            theirs = {k: v for k, v in vars(block).items() if isinstance(v, float | int)}
            theirs = {k: float(v) for k, v in theirs.items() if k in mine or v}
            assert theirs == mine, (signal.name, kind)
    assert len(ours.features) == 20 and ours.categorical < set(ours.features)
    assert list(entity.create_monitor.alert_notification.emails) == list(ours.emails)


def test_training_schedule_loads_as_a_weekly_job_of_the_training_pipeline():
    entity = load_schedule(str(SCHEDULE))
    assert isinstance(entity, JobSchedule)
    assert entity.trigger.frequency == "week"
    assert entity.create_job.display_name == "taxi-fare-train-rf"


def test_render_sets_live_names_and_emails(tmp_path: Path):
    out = tmp_path / "monitor.yml"
    render_monitor_spec(
        "prod", out, endpoint="ep-taxifare-0042prod", deployment="green",
        emails="a@contoso.com, b@contoso.com", train_data="azureml:taxi-fare-train:7",
    )  # fmt: skip
    entity = load_schedule(str(out))
    assert entity.create_monitor.monitoring_target.endpoint_deployment_id == (
        "azureml:ep-taxifare-0042prod:green"
    )
    assert entity.create_monitor.alert_notification.emails == ["a@contoso.com", "b@contoso.com"]
    text = out.read_text()
    assert "ep-taxifare-0042prod-green-model_inputs" in text
    assert "ep-taxifare-0042prod-green-model_outputs" in text
    assert "0001prod" not in text and "azureml:taxi-fare-train:7" in text


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [({"emails": "not-an-address"}, "--emails"), ({"endpoint": "ep/../x"}, "--endpoint")],
)
def test_render_refuses_bad_values_and_writes_nothing(tmp_path: Path, kwargs, needle):
    out = tmp_path / "monitor.yml"
    with pytest.raises(MlopsError, match=needle):
        render_monitor_spec("dev", out, **kwargs)
    assert list(tmp_path.iterdir()) == []


def test_validate_reports_a_broken_monitor_spec(tmp_path: Path):
    from mlops.checks.aml_load import check
    from mlops.checks.aml_specs import discover

    doc = yaml.safe_load(spec_path("dev").read_text())
    drift = doc["create_monitor"]["monitoring_signals"]["data_drift"]
    drift["metric_thresholds"]["numerical"] = {"normalised_wasserstein": 0.1}  # a typo
    folder = tmp_path / "mlops" / "azureml" / "monitoring"
    folder.mkdir(parents=True)
    (folder / "monitor-dev.yml").write_text(yaml.safe_dump(doc))
    shutil.copy(SCHEDULE, folder / "schedule.yml")  # create_job: ./pipeline.yml is missing
    findings = check(discover(tmp_path))
    monitor = [f for f in findings if "monitor-dev.yml" in str(f)]
    assert any("normalised_wasserstein" in str(f) for f in monitor)
    assert any("schedule.yml" in str(f) for f in findings)
    assert _load_schedule(spec_path("dev")) is None  # the committed one passes
