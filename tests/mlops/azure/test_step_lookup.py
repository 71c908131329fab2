"""Issue 12 (lesser): pipeline steps are found by node name. The children Azure ML lists carry
only a run id and a display name (see mlops/azure/outputs.py:step_jobs), so the lookup holds
because no node renames itself, and an ambiguous listing is refused. Also the spec drops the
deprecated max_queue_wait_ms."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from mlops.azure.outputs import step_jobs
from mlops.errors import MlopsError
from mlops.settings import REPO_ROOT

TRAIN = REPO_ROOT / "mlops" / "azureml" / "train"


def _client(*children: tuple[str, str]) -> Any:
    listed = [SimpleNamespace(name=n, display_name=d) for n, d in children]
    return SimpleNamespace(jobs=SimpleNamespace(list=lambda parent_job_name: listed))


def test_children_are_keyed_by_node_name() -> None:
    client = _client(("run-1", "prep"), ("run-2", "evaluate"))
    assert step_jobs(client, "p") == {"prep": "run-1", "evaluate": "run-2"}


def test_two_children_with_one_name_are_refused() -> None:
    client = _client(("run-1", "evaluate"), ("run-2", "evaluate"))
    with pytest.raises(MlopsError, match="two steps are shown as 'evaluate' \\(run-1, run-2\\)"):
        step_jobs(client, "p")


@pytest.mark.parametrize("spec", ["pipeline.yml", "pipeline-automl.yml"])
def test_no_pipeline_node_sets_a_display_name(spec: str) -> None:
    jobs = yaml.safe_load((TRAIN / spec).read_text(encoding="utf-8"))["jobs"]
    renamed = {node: job["display_name"] for node, job in jobs.items() if "display_name" in job}
    assert renamed == {}


def test_the_online_deployment_sets_no_deprecated_queue_wait() -> None:
    spec = REPO_ROOT / "mlops" / "azureml" / "deploy" / "online" / "online-deployment.yml"
    settings = yaml.safe_load(spec.read_text(encoding="utf-8"))["request_settings"]
    assert "max_queue_wait_ms" not in settings
    assert settings["request_timeout_ms"] >= 5000  # the budget the queue wait now counts against
