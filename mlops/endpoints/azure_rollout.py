"""The rollout :class:`~mlops.endpoints.rollout.Executor` for an Azure ML managed online endpoint.

Deployments are created from ``mlops/azureml/deploy/online/online-deployment.yml`` with the
colour, endpoint, size and the release's pins overridden (model, scoring environment from
the registry, code exported at the pinned commit), so what stage tested is what runs. Traffic
changes go through the endpoint object (``traffic`` dict), and smoke tests reach the
endpoint's scoring URI with the endpoint key (or AML token) and, for one colour, the
``azureml-model-deployment`` header.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mlops.endpoints.rollout import RolloutError
from mlops.endpoints.smoke import SmokeResult, smoke_test
from mlops.errors import MlopsError
from mlops.settings import REPO_ROOT

logger = logging.getLogger(__name__)

DEPLOYMENT_SPEC = REPO_ROOT / "mlops" / "azureml" / "deploy" / "online" / "online-deployment.yml"


def load_deployment(
    spec: Path,
    colour: str,
    endpoint: str,
    model: str,
    instance_type: str | None = None,
    instance_count: int | None = None,
    environment: str | None = None,
    code: Path | None = None,
) -> Any:
    """The online deployment of ``spec`` for one colour, endpoint, model, size and pins.

    Dotted override keys (``code_configuration.code``) are set into the loaded YAML like
    the CLI's ``--set``: azure-ai-ml 1.35.2 azure/ai/ml/_schema/core/schema.py,
    YamlFileSchema.load_from_file (``pydash.objects.set_`` per params_override entry).
    """
    from azure.ai.ml import load_online_deployment

    if not spec.is_file():
        raise MlopsError(f"{spec}: online deployment spec not found")
    overrides: list[dict[str, Any]] = [
        {"name": colour},
        {"endpoint_name": endpoint},
        {"model": model},
    ]
    if instance_type:
        overrides.append({"instance_type": instance_type})
    if instance_count is not None:
        overrides.append({"instance_count": instance_count})
    if environment:
        overrides.append({"environment": environment})
    if code is not None:
        overrides.append({"code_configuration.code": str(code)})
    return load_online_deployment(str(spec), params_override=overrides)


class AzureEndpoint:
    """Applies rollout decisions to one managed online endpoint through ``MLClient``."""

    def __init__(
        self,
        ml_client: Any,
        endpoint: str,
        model: str,
        spec: Path = DEPLOYMENT_SPEC,
        latency_ms: float = 500.0,
        instance_type: str | None = None,
        instance_count: int | None = None,
        environment: str | None = None,
        code: Path | None = None,
    ) -> None:
        self.client = ml_client
        self.endpoint = endpoint
        self.model = model
        self.spec = spec
        self.latency_ms = latency_ms
        self.instance_type = instance_type
        self.instance_count = instance_count
        self.environment = environment
        self.code = code

    def _endpoint(self) -> Any:
        try:
            return self.client.online_endpoints.get(self.endpoint)
        except Exception as exc:  # ResourceNotFoundError and friends
            raise MlopsError(
                f"online endpoint {self.endpoint} not found or not readable ({exc}); "
                "create it from mlops/azureml/deploy/online/online-endpoint.yml first"
            ) from None

    def traffic(self) -> dict[str, int]:
        """Live traffic; refuses deployments that serve nothing (see :meth:`_check_unrouted`)."""
        traffic = {str(k): int(v) for k, v in (self._endpoint().traffic or {}).items()}
        if not any(pct > 0 for pct in traffic.values()):
            self._check_unrouted()
        return traffic

    def _check_unrouted(self) -> None:
        """Fail closed when deployments exist but no traffic reaches them.

        That is not a first deployment: something reset the traffic (a blind re-apply of
        the endpoint spec sends ``traffic: {}``, see mlops/azure/endpoints.py) or a first
        rollout was rolled back. Planning one would deploy over the colour that served
        and a rollback would restore "no traffic", so nothing is changed: an operator
        sets the traffic back (``az ml online-endpoint update --traffic``) or deletes the
        unused deployment. ``online_deployments.list(endpoint_name)``: azure-ai-ml 1.35.2
        azure/ai/ml/operations/_online_deployment_operations.py:OnlineDeploymentOperations.list.
        """

        names = sorted(str(d.name) for d in self.client.online_deployments.list(self.endpoint))
        if names:
            raise RolloutError(
                f"online endpoint {self.endpoint} has deployments {', '.join(names)} but no "
                "traffic; refusing to plan a first deployment over them. Restore the traffic "
                f"(az ml online-endpoint update --name {self.endpoint} --traffic "
                f"'{names[0]}=100') or delete the unused deployment, then re-run"
            )

    def deploy(self, colour: str) -> None:
        deployment = load_deployment(
            self.spec,
            colour,
            self.endpoint,
            self.model,
            self.instance_type,
            self.instance_count,
            self.environment,
            self.code,
        )
        logger.info("deploying %s to %s/%s at 0%% traffic", self.model, self.endpoint, colour)
        self.client.online_deployments.begin_create_or_update(deployment).result()

    def discard(self, colour: str) -> None:
        """Delete a deployment that never served.

        After a failed first rollout the endpoint then has no deployments again, so the
        next run is a first deployment rather than the fail-closed "deployments but no
        traffic" state. A deployment that takes traffic is never deleted; one that was
        never created is nothing to do. ``online_deployments.begin_delete``: azure-ai-ml
        1.35.2 azure/ai/ml/operations/_online_deployment_operations.py.
        """
        from azure.core.exceptions import ResourceNotFoundError

        live = {str(k): int(v) for k, v in (self._endpoint().traffic or {}).items()}
        if live.get(colour, 0) > 0:
            raise MlopsError(f"refusing to delete {self.endpoint}/{colour}: it takes traffic")
        logger.info("deleting %s/%s, which never took traffic", self.endpoint, colour)
        try:
            poller = self.client.online_deployments.begin_delete(
                name=colour, endpoint_name=self.endpoint
            )
            poller.result()
        except ResourceNotFoundError:
            logger.info("%s/%s was never created; nothing to delete", self.endpoint, colour)

    def set_traffic(self, traffic: Mapping[str, int]) -> None:
        endpoint = self._endpoint()
        endpoint.traffic = {str(k): int(v) for k, v in traffic.items()}
        self.client.online_endpoints.begin_create_or_update(endpoint).result()
        logger.info("traffic of %s now %s", self.endpoint, endpoint.traffic)

    def _key(self) -> str:
        creds = self.client.online_endpoints.get_keys(self.endpoint)
        key = getattr(creds, "primary_key", None) or getattr(creds, "access_token", None)
        if not key:
            raise MlopsError(f"online endpoint {self.endpoint} returned no key or token")
        return str(key)

    def smoke(self, colour: str | None) -> SmokeResult:
        url = self._endpoint().scoring_uri
        if not url:
            raise MlopsError(f"online endpoint {self.endpoint} has no scoring URI yet")
        return smoke_test(url, key=self._key(), latency_ms=self.latency_ms, deployment=colour)
