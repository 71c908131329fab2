"""The Azure side of promotion, for the Azure DevOps stage and prod pipelines.

- share: copy a dev workspace model version into the Azure ML registry with the same
  name and version (``MLClient.models.share``, the SDK twin of ``az ml model share``);
  idempotent, so a re-run converges.
- model reference: the ``azureml://registries/<registry>/models/<name>/versions/<v>``
  URI that stage and prod deployments take the model from.
- stage result: the stage tests' verdict written as tags on the registry version.
- release check: a release file must name a version the registry holds, and a prod
  release must name one whose ``stage_passed`` tag is ``true`` and whose pins (scoring
  environment version, code commit) are the ones stage tested.
- before merge (pull requests, read-only): a stage release is checked against the dev
  workspace, since the registry gets the version only after the merge; a prod release
  against the registry, where stage already put it.

The checks are written against :class:`RegistryModels` (get tags / set tags), so the
same code checks the local registry store and the Azure ML registry.
"""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from taxi_fare.metrics import METRIC_NAMES
from taxi_fare.registry import LINEAGE_TAGS, MODEL_UUID_TAG

from mlops.errors import MlopsError
from mlops.promotion.stage_tests import StageResult
from mlops.registry import local_registry
from mlops.registry.local_registry import STAGE_PASSED_TAG
from mlops.registry.releases import (
    ENVIRONMENT_SPECS,
    Release,
    check_environment_follows_trainer,
    check_pins_present,
)

log = logging.getLogger(__name__)

# Tags the stage tests record next to stage_passed: the pins stage ran (issue 12 #8).
STAGE_ENVIRONMENT_TAG = "stage_environment"
STAGE_COMMIT_TAG = "stage_commit"
# Tags that identify a trained model version (register.py writes them): two versions with
# the same name and number but different values here are different models.
IDENTITY_TAGS = ("model_uuid", "git_commit", "data_fingerprint", "pipeline_run_id", "trainer")


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
class LocalRegistryStore:
    """:class:`RegistryModels` over the local registry store (``$MLOPS_HOME/registry``)."""

    def get_tags(self, name: str, version: int) -> dict[str, str] | None:
        entry = local_registry.registry_version(version, name)
        return None if entry is None else dict(entry.tags)

    def set_tags(self, name: str, version: int, tags: Mapping[str, str]) -> None:
        entry = local_registry.registry_version(version, name)
        if entry is None:
            raise MlopsError(f"version {version} of {name} is not in the local registry store")
        local_registry.set_registry_tags(entry, dict(tags))


def registry_client(registry_name: str, credential: Any | None = None) -> Any:
    """An ``MLClient`` bound to an Azure ML registry (imports the SDK only when called)."""
    from mlops.aml_client import registry_ml_client  # the seam (emulated in `mlops ado run`)

    return registry_ml_client(registry_name, credential)


def pin_tags(release: Release) -> dict[str, str]:
    """The release's pins as tags (``stage_environment``, ``stage_commit``); {} when unpinned."""
    tags = {}
    if release.environment is not None and release.environment.version is not None:
        env = release.environment
        tags[STAGE_ENVIRONMENT_TAG] = f"{env.name}:{env.version}"
    if release.code is not None and release.code.commit is not None:
        tags[STAGE_COMMIT_TAG] = release.code.commit
    return tags


def check_release(
    release: Release, registry: RegistryModels, where: str, require_pins: bool = False
) -> dict[str, str]:
    """Refuse a release whose version the registry lacks, or (prod) that has not passed stage,
    or (prod) whose pins differ from what stage tested.

    Returns the version's tags. ``where`` names the registry in messages.
    """
    if require_pins:
        check_pins_present(release)
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
    if release.env == "prod":
        check_pins_match_stage(release, tags, where)
    if require_pins:  # an Azure deployment: the pinned environment must load this model
        check_environment_follows_trainer(release, tags, where)
    return tags


def check_pins_match_stage(release: Release, tags: Mapping[str, str], where: str) -> None:
    """Prod must run what stage tested: the same environment version and code commit."""
    pinned = pin_tags(release)
    keys = (STAGE_ENVIRONMENT_TAG, STAGE_COMMIT_TAG)
    if not pinned and not any(key in tags for key in keys):
        return  # nothing pinned on either side (the local twin): the version is the release
    version, name = release.model.version, release.model.name
    for key, field in ((STAGE_ENVIRONMENT_TAG, "environment"), (STAGE_COMMIT_TAG, "code.commit")):
        tested = tags.get(key)
        if tested is None:
            raise MlopsError(
                f"version {version} of {name} in {where} records no {key}: stage did not "
                f"test a pinned {field}; re-run the stage tests before releasing to prod"
            )
        if pinned.get(key) != tested:
            raise MlopsError(
                f"the prod release pins {field} {pinned.get(key) or 'nothing'}, but stage "
                f"tested version {version} with {tested} ({where}, tag {key}); "
                "copy the pins of the stage release"
            )


@dataclass(frozen=True)
class ModelAsset:
    """What the before-merge stage check reads of a workspace model version."""

    tags: dict[str, str]
    flavors: dict[str, Any]  # from the MLmodel file, as Azure ML parsed it at registration
    path: str


class WorkspaceModels(Protocol):
    def get_asset(self, name: str, version: int) -> ModelAsset | None:
        """The version's metadata, or None when the workspace does not hold it."""
        ...


@dataclass
class AzureWorkspace:
    """:class:`WorkspaceModels` over an ``MLClient`` bound to the dev workspace (Reader)."""

    client: Any

    def get_asset(self, name: str, version: int) -> ModelAsset | None:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            model = self.client.models.get(name=name, version=str(version))
        except ResourceNotFoundError:
            return None
        # ``flavors`` comes from the version's REST flavors (the MLmodel's, for an MLflow
        # model): azure-ai-ml 1.35.2 azure/ai/ml/entities/_assets/_artifacts/model.py,
        # Model._from_rest_object.
        return ModelAsset(
            tags={str(k): str(v) for k, v in (model.tags or {}).items()},
            flavors=dict(getattr(model, "flavors", None) or {}),
            path=str(getattr(model, "path", "") or ""),
        )


SCORE_ENVIRONMENT_SPEC = ENVIRONMENT_SPECS["taxi-fare-score-env"]


def spec_environment(spec: Path) -> tuple[str, int | None]:
    """Name and ``version`` of an environment spec (None when it has no version key)."""
    import yaml

    try:
        data = yaml.safe_load(spec.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise MlopsError(f"{spec}: cannot read the environment spec ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("name"), str):
        raise MlopsError(f"{spec}: key 'name' is missing")
    version = data.get("version")
    if version is not None:
        try:
            version = int(str(version))
        except ValueError:
            raise MlopsError(f"{spec}: key 'version' is {version!r}, not an integer") from None
    return data["name"], version


def decision_tags() -> tuple[str, ...]:
    """Tags register.py writes only after a promote decision (lineage, identity, metrics)."""

    return (*LINEAGE_TAGS, MODEL_UUID_TAG, *METRIC_NAMES)


def check_stage_before_merge(
    release: Release,
    workspace: WorkspaceModels,
    where: str,
    spec_environment_version: int | None,
    repo: Path,
) -> ModelAsset:
    """What a stage release PR can be checked against before the registry holds its version.

    The version exists in the dev workspace with the tags register.py writes after a
    promote decision and a complete MLflow artifact; the environment pin is the version
    of the scoring environment spec the merge will register; the code pin is a commit of
    this branch's history.
    """
    if release.env != "stage":
        raise MlopsError(f"the before-merge workspace check is for stage, not {release.env}")
    name, version = release.model.name, release.model.version
    if version is None:
        raise MlopsError("the stage release names no model version (version: null)")
    asset = workspace.get_asset(name, version)
    if asset is None:
        raise MlopsError(
            f"the stage release names version {version} of {name}, which {where} does not "
            "hold; only versions the dev training registered can be released"
        )
    missing = [tag for tag in decision_tags() if not asset.tags.get(tag)]
    if missing:
        raise MlopsError(
            f"version {version} of {name} in {where} lacks the tags of a promote decision "
            f"({', '.join(missing)}); register.py writes them only when the gate promotes"
        )
    if "python_function" not in asset.flavors or not asset.path:
        raise MlopsError(
            f"version {version} of {name} in {where} has no complete MLflow artifact "
            f"(flavors {sorted(asset.flavors) or 'none'}, path {asset.path or 'none'})"
        )
    check_pins_present(release)
    assert release.environment is not None and release.code is not None
    check_environment_follows_trainer(release, asset.tags, where)
    if release.environment.version != spec_environment_version:
        raise MlopsError(
            f"the stage release pins environment {release.environment.name} version "
            f"{release.environment.version}, but the scoring environment spec says version "
            f"{spec_environment_version}; the merge registers the spec's version"
        )
    commit = str(release.code.commit)
    if not is_ancestor(repo, commit):
        raise MlopsError(
            f"the stage release pins code commit {commit}, which is not in the history of "
            f"this branch ({repo})"
        )
    return asset


def is_ancestor(repo: Path, commit: str) -> bool:
    """True when ``commit`` is HEAD or an ancestor of it in ``repo`` (needs full history)."""
    known = subprocess.run(
        ["git", "-C", str(repo), "cat-file", "-e", f"{commit}^{{commit}}"],
        capture_output=True,
        check=False,
    )
    if known.returncode != 0:
        return False  # not a commit of this clone (PR jobs check out with fetchDepth: 0)
    done = subprocess.run(
        ["git", "-C", str(repo), "merge-base", "--is-ancestor", commit, "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode not in (0, 1):
        raise MlopsError(
            f"git cannot compare commit {commit} with HEAD in {repo}: "
            f"{done.stderr.strip() or done.returncode} (a shallow clone? fetch full history)"
        )
    return done.returncode == 0


def share(
    workspace_client: Any, registry: RegistryModels, name: str, version: int, registry_name: str
) -> bool:
    """Share a workspace model version into the registry under the same name and version.

    Returns False when the registry already holds that very model (nothing to do), True
    when shared. A registry version of the same name and number but other identity tags
    (a recreated dev workspace numbers from 1 again) is refused, never taken as the same.
    """
    from azure.core.exceptions import ResourceNotFoundError

    try:
        source = workspace_client.models.get(name=name, version=str(version))
    except ResourceNotFoundError:
        raise MlopsError(
            f"version {version} of {name} does not exist in the dev workspace; nothing shared"
        ) from None
    identity = {k: str(v) for k, v in (source.tags or {}).items() if k in IDENTITY_TAGS}
    held = registry.get_tags(name, version)
    if held is not None:
        if not identity:
            raise MlopsError(
                f"version {version} of {name} in the dev workspace has none of the identity "
                f"tags {', '.join(IDENTITY_TAGS)}; cannot tell whether registry "
                f"{registry_name} holds the same model"
            )
        differ = {k: (held.get(k), v) for k, v in identity.items() if held.get(k) != v}
        if differ:
            shown = "; ".join(
                f"{k}: registry {r!r}, workspace {w!r}" for k, (r, w) in differ.items()
            )
            raise MlopsError(
                f"registry {registry_name} holds a different version {version} of {name} "
                f"({shown}); was the dev workspace recreated? Release a version number the "
                "registry does not hold"
            )
        log.info("registry %s already holds version %s of %s", registry_name, version, name)
        return False
    workspace_client.models.share(
        name=name,
        version=str(version),
        share_with_name=name,
        share_with_version=str(version),
        registry_name=registry_name,
    )
    # The identity tags are set on the registry copy too, so the next comparison has them
    # whether or not the share copied the workspace tags.
    held = registry.get_tags(name, version)
    if held is None:
        raise MlopsError(
            f"sharing version {version} of {name} reported success, but registry "
            f"{registry_name} does not hold it"
        )
    if any(held.get(k) != v for k, v in identity.items()):
        registry.set_tags(name, version, identity)
    log.info("shared version %s of %s into registry %s", version, name, registry_name)
    return True


def record_stage_result(
    registry: RegistryModels, name: str, result: Mapping[str, Any], where: str
) -> dict[str, str]:
    """Write a stage result (the JSON the stage tests wrote) as tags on its registry version."""

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
