"""The Azure side of promotion, for the Azure DevOps stage and prod pipelines.

- share: copy a dev workspace model version into the Azure ML registry with the same
  name and version (``MLClient.models.share``, the SDK twin of ``az ml model share``);
  idempotent, so a re-run converges.
- model reference: the ``azureml://registries/<registry>/models/<name>/versions/<v>``
  URI that stage and prod deployments take the model from.
- stage result: the stage tests' verdict written as tags on the registry version.
- release check: a release file must name a version the registry holds, and a prod
  release must name one whose ``stage_passed`` tag is ``true``.

The checks are written against :class:`RegistryModels` (get tags / set tags), so the
same code checks the local registry store and the Azure ML registry.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from mlops.errors import MlopsError
from mlops.promotion.local_registry import STAGE_PASSED_TAG
from mlops.promotion.releases import Release

log = logging.getLogger(__name__)


class RegistryModels(Protocol):
    """The two registry operations promotion needs."""

    def get_tags(self, name: str, version: int) -> dict[str, str] | None:
        """Tags of a version, or None when the registry does not hold it."""
        ...

    def set_tags(self, name: str, version: int, tags: Mapping[str, str]) -> None: ...


@dataclass
class AzureRegistry:
    """:class:`RegistryModels` over an ``MLClient`` bound to an Azure ML registry."""

    client: Any  # azure.ai.ml.MLClient(registry_name=...)

    def get_tags(self, name: str, version: int) -> dict[str, str] | None:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            model = self.client.models.get(name=name, version=str(version))
        except ResourceNotFoundError:
            return None
        return {str(k): str(v) for k, v in (model.tags or {}).items()}

    def set_tags(self, name: str, version: int, tags: Mapping[str, str]) -> None:
        # Registry model versions are updated by a create-or-update (PUT) of the same
        # version; only tags and description are mutable, so the artifact is untouched.
        model = self.client.models.get(name=name, version=str(version))
        model.tags = {**(model.tags or {}), **tags}
        self.client.models.create_or_update(model)


@dataclass
class LocalRegistry:
    """:class:`RegistryModels` over the local registry store (``$MLOPS_HOME/registry``)."""

    def get_tags(self, name: str, version: int) -> dict[str, str] | None:
        from mlops.promotion import local_registry

        entry = local_registry.registry_version(version, name)
        return None if entry is None else dict(entry.tags)

    def set_tags(self, name: str, version: int, tags: Mapping[str, str]) -> None:
        from mlops.promotion import local_registry

        entry = local_registry.registry_version(version, name)
        if entry is None:
            raise MlopsError(f"version {version} of {name} is not in the local registry store")
        local_registry.set_registry_tags(entry, dict(tags))


def registry_client(registry_name: str, credential: Any | None = None) -> Any:
    """An ``MLClient`` bound to an Azure ML registry (imports the SDK only when called)."""
    from azure.ai.ml import MLClient

    from mlops.azure.workspace import make_credential

    return MLClient(credential=credential or make_credential(), registry_name=registry_name)


def check_release(release: Release, registry: RegistryModels, where: str) -> dict[str, str]:
    """Refuse a release whose version the registry lacks, or (prod) that has not passed stage.

    Returns the version's tags. ``where`` names the registry in messages.
    """
    name, version = release.model.name, release.model.version
    if version is None:
        raise MlopsError(f"the {release.env} release names no model version (version: null)")
    tags = registry.get_tags(name, version)
    if tags is None:
        raise MlopsError(
            f"the {release.env} release names version {version} of {name}, "
            f"which {where} does not hold; share it first"
        )
    if release.env == "prod" and tags.get(STAGE_PASSED_TAG) != "true":
        state = tags.get(STAGE_PASSED_TAG, "missing")
        raise MlopsError(
            f"version {version} of {name} has not passed stage in {where} "
            f"(tag {STAGE_PASSED_TAG}={state}); refusing the prod release"
        )
    return tags


def share(
    workspace_client: Any, registry: RegistryModels, name: str, version: int, registry_name: str
) -> bool:
    """Share a workspace model version into the registry under the same name and version.

    Returns False when the registry already holds it (nothing to do), True when shared.
    """
    if registry.get_tags(name, version) is not None:
        log.info("registry %s already holds version %s of %s", registry_name, version, name)
        return False
    from azure.core.exceptions import ResourceNotFoundError

    try:
        workspace_client.models.get(name=name, version=str(version))
    except ResourceNotFoundError:
        raise MlopsError(
            f"version {version} of {name} does not exist in the dev workspace; nothing shared"
        ) from None
    workspace_client.models.share(
        name=name,
        version=str(version),
        share_with_name=name,
        share_with_version=str(version),
        registry_name=registry_name,
    )
    log.info("shared version %s of %s into registry %s", version, name, registry_name)
    return True


def record_stage_result(
    registry: RegistryModels, name: str, result: Mapping[str, Any], where: str
) -> dict[str, str]:
    """Write a stage result (the JSON the stage tests wrote) as tags on its registry version."""
    from mlops.promotion.stage_tests import StageResult

    try:
        parsed = StageResult(
            version=int(result["version"]),
            rows=int(result["rows"]),
            passed=bool(result["passed"]),
            reason=str(result["reason"]),
            metrics={str(k): float(v) for k, v in dict(result["metrics"]).items()},
            tested_at=str(result.get("tested_at", "")),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise MlopsError(f"stage result is missing or has a bad field ({exc})") from None
    if result["passed"] is not True and result["passed"] is not False:
        raise MlopsError(
            f"stage result field 'passed' must be true or false, got {result['passed']!r}"
        )
    if registry.get_tags(name, parsed.version) is None:
        raise MlopsError(f"version {parsed.version} of {name} is not in {where}; nothing recorded")
    tags = parsed.tags()
    registry.set_tags(name, parsed.version, tags)
    return tags
