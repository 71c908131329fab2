"""The Azure side of monitoring, called by the monitoring pipelines through azure-ai-ml.

- ``apply_monitor``: register the released model's training split as ``taxi-fare-train:<v>``
  (show-then-create), render ``monitor-<env>.yml`` for the live names and create or update
  the monitor schedule.
- ``apply_training_schedule``: create or update ``train/schedule.yml``, then enable or
  disable it (``is_enabled`` is output-only in the spec).
- ``check_drift``: judge yesterday's collected requests with the local monitor and say
  whether a signal is breached.

Clients are ``MLClient``-shaped (``mlops.aml_client`` builds them). Lineage: the
model's ``pipeline_run_id`` tag (register.py) names the dev pipeline run; its ``prep``
child wrote ``train_data``, whose files sit at the default output path
``azureml/<job name>/<output name>`` of the dev workspace's ``workspaceblobstore``.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from mlops.errors import MlopsError
from mlops.registry.releases import ModelRelease

log = logging.getLogger(__name__)

TRAIN_ASSET = "taxi-fare-train"
DATASTORE = "workspaceblobstore"


def _not_found(exc: Exception) -> bool:
    return (
        type(exc).__name__ in ("ResourceNotFoundError", "KeyError")
        or "not found" in str(exc).lower()
    )


def prep_job(dev: Any, registry: Any, release: ModelRelease) -> str:
    """Name of the prep step of the pipeline run that trained the released version."""
    model = registry.models.get(release.name, str(release.version))
    run = (model.tags or {}).get("pipeline_run_id")
    if not run:
        raise MlopsError(f"{release.name}:{release.version} has no pipeline_run_id tag")
    for job in dev.jobs.list(parent_job_name=run):
        if job.display_name == "prep":
            return str(job.name)
    raise MlopsError(f"pipeline run {run} of {release.name}:{release.version} has no prep step")


def ensure_training_asset(
    ml: Any, dev: Any, registry: Any, release: ModelRelease, dev_ref: tuple[str, str, str]
) -> str:
    """``azureml:taxi-fare-train:<version>`` in ``ml``'s workspace; created if missing."""
    from azure.ai.ml.entities import Data

    ref = f"azureml:{TRAIN_ASSET}:{release.version}"
    try:
        ml.data.get(TRAIN_ASSET, str(release.version))
        log.info("%s exists", ref)
        return ref
    except Exception as exc:  # azure-core's ResourceNotFoundError; anything else is real
        if not _not_found(exc):
            raise
    prep = prep_job(dev, registry, release)
    sub, group, workspace = dev_ref
    path = (
        f"azureml://subscriptions/{sub}/resourcegroups/{group}/workspaces/{workspace}"
        f"/datastores/{DATASTORE}/paths/azureml/{prep}/train_data/"
    )
    ml.data.create_or_update(
        Data(name=TRAIN_ASSET, version=str(release.version), type="mltable", path=path,
             description=f"training split of {release.name}:{release.version} (job {prep})")
    )  # fmt: skip
    log.info("registered %s -> %s", ref, path)
    return ref


def busiest(traffic: dict[str, int]) -> str:
    import json

    from mlops.monitoring.render import busiest_deployment

    return busiest_deployment(json.dumps(traffic))


def apply_schedule(ml: Any, path: Path) -> Any:
    """Show, then create or update (``begin_create_or_update`` is an upsert: azure-cli-
    extensions azext_mlv2/manual/custom/schedule.py:_ml_schedule_create calls it too)."""
    from azure.ai.ml.entities._load_functions import load_schedule

    schedule = load_schedule(str(path))
    try:
        ml.schedules.get(schedule.name)
        log.info("updating schedule %s", schedule.name)
    except Exception as exc:
        if not _not_found(exc):
            raise
        log.info("creating schedule %s", schedule.name)
    return ml.schedules.begin_create_or_update(schedule).result()


def apply_monitor(
    ml: Any,
    dev: Any,
    registry: Any,
    release: ModelRelease,
    env: str,
    endpoint: str,
    emails: str,
    dev_ref: tuple[str, str, str],
    out: Path,
) -> Path:
    from mlops.monitoring.render import render_monitor_spec

    deployment = busiest(ml.online_endpoints.get(endpoint).traffic or {})
    train = ensure_training_asset(ml, dev, registry, release, dev_ref)
    render_monitor_spec(env, out, endpoint, deployment, emails, train)
    apply_schedule(ml, out)
    return out


def apply_training_schedule(ml: Any, path: Path, enabled: bool) -> None:
    schedule = apply_schedule(ml, path)
    name = getattr(schedule, "name", None) or _schedule_name(path)
    poller = ml.schedules.begin_enable(name) if enabled else ml.schedules.begin_disable(name)
    poller.result()
    log.info("schedule %s %s", name, "enabled" if enabled else "disabled")


def _schedule_name(path: Path) -> str:
    import yaml

    return str(yaml.safe_load(path.read_text(encoding="utf-8"))["name"])


def collected_prefix(endpoint: str, deployment: str, day: datetime) -> str:
    """Blob prefix of one day of ``model_inputs`` (how-to-collect-production-data:
    modelDataCollector/{endpoint}/{deployment}/{collection}/{yyyy}/{MM}/{dd}/{HH}/*.jsonl)."""
    return f"modelDataCollector/{endpoint}/{deployment}/model_inputs/{day:%Y/%m/%d}/"


def download_collected(ml: Any, endpoint: str, deployment: str, day: datetime, to: Path) -> int:
    """Download one day of collected inputs; returns the number of files."""
    from azure.storage.blob import ContainerClient

    from mlops.aml_client import make_credential

    store = ml.datastores.get(DATASTORE)
    container = ContainerClient(
        f"https://{store.account_name}.blob.{store.endpoint}", store.container_name,
        credential=make_credential(),
    )  # fmt: skip
    count = 0
    for blob in container.list_blobs(name_starts_with=collected_prefix(endpoint, deployment, day)):
        target = to / blob.name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(container.download_blob(blob.name).readall())
        count += 1
    return count


def check_drift(
    ml: Any,
    dev: Any,
    registry: Any,
    release: ModelRelease,
    env: str,
    endpoint: str,
    work: Path,
    now: datetime | None = None,
) -> bool | None:
    """Judge yesterday's requests; True breached, False not, None nothing was collected."""
    from mlops.monitoring.report import write_report
    from mlops.monitoring.run import monitor

    day = (now or datetime.now(UTC)) - timedelta(days=1)
    deployment = busiest(ml.online_endpoints.get(endpoint).traffic or {})
    target = work / "target"
    if download_collected(ml, endpoint, deployment, day, target) == 0:
        log.info("no requests collected on %s: nothing to judge", f"{day:%Y-%m-%d}")
        return None
    dev.jobs.download(prep_job(dev, registry, release), download_path=str(work / "baseline"),
                      output_name="train_data")  # fmt: skip
    registry.models.download(release.name, str(release.version), download_path=str(work / "model"))
    run = monitor(env, target=target, baseline=work / "baseline", model_dir=work / "model")
    write_report(
        work / "report", run.results, run.baseline.features, run.target.features,
        run.spec.categorical, run.baseline_predictions, run.target_predictions,
        f"taxi-fare monitor ({env}, {deployment}): {day:%Y-%m-%d}",
    )  # fmt: skip
    return run.breached
