"""Issue 12, defect 1: a rollout never re-applies an endpoint spec over a live endpoint, and
an endpoint with deployments but no traffic stops the rollout before anything changes.

Why re-applying is unsafe (the behaviour these tests pin):
- azure-cli-extensions src/machinelearningservices/azext_mlv2/manual/custom/online_endpoint.py:
  ``ml_online_endpoint_update`` PUTs ``parameters``, which the generic update gets from
  ``_ml_online_endpoint_show(file=...)``: ``load_online_endpoint(source=file)``, the entity
  built from the file alone.
- azure-ai-ml 1.35.2 azure/ai/ml/entities/_endpoint/online_endpoint.py: ``OnlineEndpoint.__init__``
  sets ``self.traffic = dict(traffic) if traffic else {}`` and ``_to_rest_online_endpoint``
  sends that ``traffic`` in the PUT body: a file without ``traffic`` sends ``{}``.
"""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from mlops.azure.endpoints import ensure_endpoint
from mlops.endpoints.azure_rollout import AzureEndpoint
from mlops.endpoints.rollout import RolloutError, run_rollout
from mlops.errors import MlopsError
from mlops.settings import REPO_ROOT

PIPELINES = REPO_ROOT / "mlops" / "devops-pipelines"
ONLINE_SPEC = REPO_ROOT / "mlops" / "azureml" / "deploy" / "online" / "online-endpoint.yml"
BATCH_SPEC = REPO_ROOT / "mlops" / "azureml" / "deploy" / "batch" / "batch-endpoint.yml"


class _Poller:
    def __init__(self, value: Any) -> None:
        self.value = value

    def result(self) -> Any:
        return self.value


class _EndpointOps:
    """online_endpoints / batch_endpoints: get and begin_create_or_update, recorded."""

    def __init__(self, live: Any | None = None, error: Exception | None = None) -> None:
        self.live = live
        self.error = error
        self.puts: list[Any] = []

    def get(self, name: str) -> Any:
        if self.error is not None:
            raise self.error
        if self.live is None or self.live.name != name:
            raise ResourceNotFoundError(f"endpoint {name} not found")
        return self.live

    def begin_create_or_update(self, entity: Any) -> _Poller:
        self.puts.append(entity)
        return _Poller(entity)


def _spec_entity(kind: str, spec: Path, name: str) -> Any:
    """What loading the spec gives: no traffic, no defaults (as the SDK loaders do)."""
    data = yaml.safe_load(spec.read_text())
    return SimpleNamespace(
        name=name,
        description=data.get("description"),
        auth_mode=data.get("auth_mode"),
        tags=data.get("tags") or {},
        traffic={},
        mirror_traffic={},
        defaults=None,
    )


def _live(name: str, **extra: Any) -> Any:
    data = yaml.safe_load(ONLINE_SPEC.read_text())
    fields = {
        "name": name,
        "description": data["description"],
        "auth_mode": "key",
        "tags": dict(data["tags"]),
        "traffic": {"blue": 100},
        "mirror_traffic": {},
        "defaults": None,
    }
    fields.update(extra)
    return SimpleNamespace(**fields)


def test_a_live_endpoint_is_left_alone() -> None:
    ops = _EndpointOps(live=_live("ep-live"))
    client = SimpleNamespace(online_endpoints=ops)
    state = ensure_endpoint(client, "online", ONLINE_SPEC, "ep-live", load=_spec_entity)
    assert state == "exists"
    assert ops.puts == []  # no PUT, so nothing can reset the live traffic


def test_a_missing_endpoint_is_created_once_under_the_derived_name() -> None:
    ops = _EndpointOps()
    client = SimpleNamespace(online_endpoints=ops)
    assert ensure_endpoint(client, "online", ONLINE_SPEC, "ep-new", load=_spec_entity) == "created"
    assert [p.name for p in ops.puts] == ["ep-new"]
    assert ops.puts[0].traffic == {}  # a new endpoint has no deployments to route to


def test_changed_settings_are_applied_only_with_the_live_traffic_sent_back() -> None:
    live = _live("ep-live", description="old words", traffic={"green": 100, "blue": 0})
    ops = _EndpointOps(live=live)
    client = SimpleNamespace(online_endpoints=ops)
    state = ensure_endpoint(
        client, "online", ONLINE_SPEC, "ep-live", load=_spec_entity, apply_settings=True
    )
    assert state == "updated"
    (put,) = ops.puts
    assert put.description == yaml.safe_load(ONLINE_SPEC.read_text())["description"]
    assert put.traffic == {"green": 100, "blue": 0}


def test_settings_that_match_send_nothing_even_when_asked_to_apply() -> None:
    ops = _EndpointOps(live=_live("ep-live"))
    client = SimpleNamespace(online_endpoints=ops)
    state = ensure_endpoint(
        client, "online", ONLINE_SPEC, "ep-live", load=_spec_entity, apply_settings=True
    )
    assert state == "exists" and ops.puts == []


def test_a_batch_endpoint_keeps_its_default_deployment() -> None:
    live = _live("bep-live", auth_mode="aad_token", description="old", defaults={"x": 1})
    live.defaults = SimpleNamespace(deployment_name="taxi-fare-batch")
    ops = _EndpointOps(live=live)
    client = SimpleNamespace(batch_endpoints=ops)
    state = ensure_endpoint(
        client, "batch", BATCH_SPEC, "bep-live", load=_spec_entity, apply_settings=True
    )
    assert state == "updated"
    assert ops.puts[0].defaults.deployment_name == "taxi-fare-batch"


def test_a_lookup_that_fails_otherwise_creates_nothing() -> None:
    ops = _EndpointOps(error=HttpResponseError("403 Forbidden"))
    client = SimpleNamespace(online_endpoints=ops)
    with pytest.raises(MlopsError, match="online endpoint ep-x: cannot look it up"):
        ensure_endpoint(client, "online", ONLINE_SPEC, "ep-x", load=_spec_entity)
    assert ops.puts == []


def test_an_unknown_kind_is_refused() -> None:
    with pytest.raises(MlopsError, match="kind 'kubernetes'"):
        ensure_endpoint(SimpleNamespace(), "kubernetes", ONLINE_SPEC, "ep-x", load=_spec_entity)


def test_the_sdk_loader_overrides_the_name_and_carries_no_traffic() -> None:
    from mlops.azure.endpoints import load_endpoint

    entity = load_endpoint("online", ONLINE_SPEC, "ep-taxifare-0001prod")
    assert entity.name == "ep-taxifare-0001prod"
    assert entity.traffic == {}  # why a blind re-apply zeroes the live traffic


# --- the rollout fails closed on deployments without traffic ---------------------------


class _Deployments:
    def __init__(self, names: list[str]) -> None:
        self.names = names
        self.created: list[Any] = []

    def list(self, endpoint_name: str) -> list[Any]:
        return [SimpleNamespace(name=n, endpoint_name=endpoint_name) for n in self.names]

    def begin_create_or_update(self, deployment: Any) -> _Poller:
        self.created.append(deployment)
        return _Poller(deployment)


def _rollout_client(traffic: dict[str, int], deployed: list[str]) -> Any:
    ops = _EndpointOps(live=_live("ep-x", traffic=traffic, scoring_uri="https://ep/score"))
    return SimpleNamespace(online_endpoints=ops, online_deployments=_Deployments(deployed))


@pytest.mark.parametrize("traffic", [{}, {"blue": 0}, {"blue": 0, "green": 0}])
def test_deployments_without_traffic_stop_the_rollout_changing_nothing(
    traffic: dict[str, int],
) -> None:
    client = _rollout_client(traffic, ["blue", "green"])
    executor = AzureEndpoint(client, "ep-x", "azureml://registries/r/models/taxi-fare/versions/2")
    with pytest.raises(RolloutError, match=r"ep-x has deployments blue, green but no traffic"):
        run_rollout(executor, [10, 50, 100])
    assert client.online_deployments.created == []
    assert client.online_endpoints.puts == []


def test_an_endpoint_without_deployments_is_a_first_deployment() -> None:
    client = _rollout_client({}, [])
    executor = AzureEndpoint(client, "ep-x", "m")
    assert executor.traffic() == {}


def test_a_serving_endpoint_does_not_list_its_deployments() -> None:
    client = _rollout_client({"blue": 100}, ["blue"])
    client.online_deployments.list = None  # must not be called: traffic already says who serves
    assert AzureEndpoint(client, "ep-x", "m").traffic() == {"blue": 100}


# --- the pipelines ----------------------------------------------------------------------

_REAPPLY = re.compile(r"az ml \S*-endpoint update[^\n]*--file")


def test_no_pipeline_re_applies_an_endpoint_spec() -> None:
    offenders = [
        p.relative_to(REPO_ROOT).as_posix()
        for p in sorted(PIPELINES.rglob("*.yml"))
        for line in p.read_text(encoding="utf-8").splitlines()
        if not line.lstrip().startswith("#") and _REAPPLY.search(line)
    ]
    assert offenders == []


def test_create_endpoint_template_calls_the_create_if_missing_helper() -> None:
    text = (PIPELINES / "templates" / "create-endpoint.yml").read_text(encoding="utf-8")
    assert "python -m mlops azure ensure-endpoint" in text
    assert " create " not in text.split("inlineScript:", 1)[1].replace('"', " ")


def test_the_endpoint_spec_no_longer_claims_re_applying_is_safe() -> None:
    assert "never moves traffic" not in ONLINE_SPEC.read_text(encoding="utf-8")


# --- a failed first deployment leaves no unrouted deployment behind ----------------------


def test_a_failed_first_rollout_deletes_the_deployment_it_created(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import subprocess

    from mlops.cli import main

    head = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    release = tmp_path / "stage.yml"
    release.write_text(
        "model:\n  name: taxi-fare\n  version: 1\n  registry: mlr-taxifare-0001\n"
        "environment:\n  name: taxi-fare-score-env\n  version: 1\n"
        f"code:\n  commit: {head}\nrollout:\n  steps: [100]\n  latency_ms: 500\n",
        encoding="utf-8",
    )
    client = _rollout_client({}, [])
    deleted: list[tuple[str, str]] = []

    def failing_create(deployment: Any) -> _Poller:
        client.online_deployments.created.append(deployment)
        raise RuntimeError("image build failed")

    def delete(name: str, endpoint_name: str) -> _Poller:
        deleted.append((endpoint_name, name))
        return _Poller(None)

    client.online_deployments.begin_create_or_update = failing_create
    client.online_deployments.begin_delete = delete
    monkeypatch.setattr("mlops.aml_client.ml_client", lambda ref, credential=None: client)
    with pytest.raises(SystemExit) as done:
        main(["rollout", "azure", "--endpoint", "ep-x", "--release", str(release),
              "--subscription-id", "s", "--resource-group", "g", "--workspace", "w"])  # fmt: skip
    assert done.value.code == 1
    assert [d.name for d in client.online_deployments.created] == ["blue"]
    assert deleted == [("ep-x", "blue")]
    # The traffic put back is the empty traffic the rollout found.
    assert [p.traffic for p in client.online_endpoints.puts] == [{}]


def test_a_deployment_that_serves_is_never_discarded() -> None:
    client = _rollout_client({"blue": 100}, ["blue"])
    with pytest.raises(MlopsError, match="refusing to delete ep-x/blue: it takes traffic"):
        AzureEndpoint(client, "ep-x", "m").discard("blue")
