"""The Azure ML endpoint and deployment specs load offline with azure-ai-ml's loaders, and the
Azure rollout executor turns them into the calls the rollout needs."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from mlops.endpoints.azure_rollout import DEPLOYMENT_SPEC, AzureEndpoint, load_deployment
from tests.endpoint_models import ROOT

DEPLOY = ROOT / "mlops" / "azureml" / "deploy"
SCHEMA = "https://azuremlschemas.azureedge.net/latest/"
CONFIG = yaml.safe_load((ROOT / "config-infra-dev.yml").read_text())["variables"]
SUFFIX = f"{CONFIG['namespace']}-{CONFIG['postfix']}{CONFIG['environment']}"
REGISTRY = f"azureml://registries/mlr-{CONFIG['namespace']}-{CONFIG['postfix']}/models/taxi-fare/"


@pytest.mark.parametrize(
    ("path", "schema"),
    [
        ("online/online-endpoint.yml", "managedOnlineEndpoint"),
        ("online/online-deployment.yml", "managedOnlineDeployment"),
        ("batch/batch-endpoint.yml", "batchEndpoint"),
        ("batch/batch-deployment.yml", "modelBatchDeployment"),
        ("score-env.yml", "environment"),
    ],
)
def test_each_spec_names_its_schema(path: str, schema: str) -> None:
    assert yaml.safe_load((DEPLOY / path).read_text())["$schema"] == f"{SCHEMA}{schema}.schema.json"


def test_online_endpoint(aml: Any) -> None:
    endpoint = aml.load_online_endpoint(DEPLOY / "online" / "online-endpoint.yml")
    assert endpoint.name == f"ep-{SUFFIX}"
    assert endpoint.auth_mode == "key"
    assert not endpoint.traffic  # the rollout owns traffic


def _resolved(base: Path, relative: str | Path) -> Path:
    return (base / relative).resolve()


def test_online_deployment(aml: Any) -> None:
    spec = DEPLOY / "online" / "online-deployment.yml"
    dep = aml.load_online_deployment(spec)
    assert (dep.name, dep.endpoint_name) == ("blue", f"ep-{SUFFIX}")
    assert dep.model.startswith(REGISTRY)
    code = _resolved(spec.parent, dep.code_configuration.code)
    assert dep.code_configuration.scoring_script == "score.py"
    assert (code / "score.py").is_file() and (code / "taxi_fare").is_dir()
    # azure-ai-ml reads the conda file into the environment: it is the project's score spec.
    score_conda = yaml.safe_load((ROOT / "data-science/environment/score-conda.yml").read_text())
    assert dep.environment.conda_file == score_conda
    conda = _resolved(spec.parent, yaml.safe_load(spec.read_text())["environment"]["conda_file"])
    assert conda == ROOT / "data-science" / "environment" / "score-conda.yml"
    assert (dep.instance_type, dep.instance_count) == (
        CONFIG["online_instance_type"],
        CONFIG["online_instance_count"],
    )
    assert dep.request_settings.request_timeout_ms == 5000
    assert dep.liveness_probe.period == 10 and dep.readiness_probe.failure_threshold == 3
    assert dep.app_insights_enabled is True
    assert dep.environment_variables["SCORE_MAX_ROWS"] == "10000"


def test_batch_endpoint_and_deployment(aml: Any) -> None:
    from azure.ai.ml.entities._load_functions import load_model_batch_deployment

    endpoint = aml.load_batch_endpoint(DEPLOY / "batch" / "batch-endpoint.yml")
    assert (endpoint.name, endpoint.auth_mode) == (f"bep-{SUFFIX}", "aad_token")
    spec = DEPLOY / "batch" / "batch-deployment.yml"
    dep = load_model_batch_deployment(spec)
    assert dep.endpoint_name == endpoint.name
    assert dep.model.startswith(REGISTRY)
    assert dep.compute == "cpu-cluster"
    assert dep.code_configuration.scoring_script == "batch_score.py"
    code = _resolved(spec.parent, dep.code_configuration.code)
    assert (code / "batch_score.py").is_file()
    s = dep.settings
    assert (s.mini_batch_size, s.error_threshold, s.output_action) == (1, 2, "append_row")
    assert (s.retry_settings.max_retries, s.max_concurrency_per_instance) == (2, 2)
    assert s.output_file_name == "predictions.csv"


def test_load_deployment_overrides_colour_endpoint_model_and_size(aml: Any) -> None:
    model = f"{REGISTRY}versions/7"
    dep = load_deployment(DEPLOYMENT_SPEC, "green", "ep-x", model, "Standard_F4s_v2", 3)
    assert (dep.name, dep.endpoint_name, dep.model) == ("green", "ep-x", model)
    assert (dep.instance_type, dep.instance_count) == ("Standard_F4s_v2", 3)


class _Poller:
    def __init__(self, value: Any) -> None:
        self.value = value

    def result(self) -> Any:
        return self.value


class _Endpoints:
    def __init__(self) -> None:
        self.endpoint = SimpleNamespace(
            traffic={"blue": 100}, scoring_uri="https://ep/score", name="ep-x"
        )
        self.updates: list[dict[str, int]] = []

    def get(self, name: str) -> Any:
        if name != "ep-x":
            raise LookupError(f"no endpoint {name}")
        return self.endpoint

    def begin_create_or_update(self, endpoint: Any) -> _Poller:
        self.updates.append(dict(endpoint.traffic))
        return _Poller(endpoint)

    def get_keys(self, name: str) -> Any:
        return SimpleNamespace(primary_key="k1", secondary_key="k2")


class _Deployments:
    def __init__(self) -> None:
        self.created: list[Any] = []

    def begin_create_or_update(self, deployment: Any) -> _Poller:
        self.created.append(deployment)
        return _Poller(deployment)


def test_azure_endpoint_applies_deploy_and_traffic_through_ml_client(aml: Any) -> None:
    client = SimpleNamespace(online_endpoints=_Endpoints(), online_deployments=_Deployments())
    model = f"{REGISTRY}versions/4"
    executor = AzureEndpoint(client, "ep-x", model, instance_count=2)
    assert executor.traffic() == {"blue": 100}
    executor.deploy("green")
    created = client.online_deployments.created[0]
    assert (created.name, created.endpoint_name, created.model) == ("green", "ep-x", model)
    assert created.instance_count == 2
    executor.set_traffic({"green": 10, "blue": 90})
    assert client.online_endpoints.updates == [{"green": 10, "blue": 90}]
    assert executor._key() == "k1"


def test_azure_endpoint_names_a_missing_endpoint() -> None:
    client = SimpleNamespace(online_endpoints=_Endpoints(), online_deployments=_Deployments())
    with pytest.raises(Exception, match="online endpoint ep-y not found"):
        AzureEndpoint(client, "ep-y", "m").traffic()


@pytest.fixture(scope="module")
def aml() -> Any:
    """azure-ai-ml, imported once per module (it takes a few seconds)."""
    import azure.ai.ml as aml

    return aml
