"""Release files (``mlops/releases/<env>.yml``): which model version an environment must run.

Changing one is a pull request; merging it triggers the stage or prod pipelines, so
git history is the audit log. Every reader (promotion, serving, the Azure DevOps
checks) goes through :func:`load_release`, which refuses a malformed file with one
line naming the file and the key.
"""

from __future__ import annotations

import itertools
import os
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from mlops.errors import MlopsError
from mlops.settings import REPO_ROOT

RELEASE_ENVIRONMENTS = ("stage", "prod")
RELEASES_DIR_ENV = "MLOPS_RELEASES_DIR"
DEFAULT_RELEASES_DIR = REPO_ROOT / "mlops" / "releases"

# Azure ML asset names: letters, digits, '-', '_', '.'; must start with a letter or digit.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$")
_TOP_KEYS = ("model", "rollout", "environment", "code")
_ENVIRONMENT_KEYS = ("name", "version")
_CODE_KEYS = ("commit",)
_COMMIT = re.compile(r"^[0-9a-f]{40}$")
_MODEL_KEYS = ("name", "version", "registry")
_ROLLOUT_KEYS = ("steps", "latency_ms")

#: The scoring environment a model loads in, by the ``trainer`` tag register.py writes. An
#: Azure AutoML model holds azureml-automl-runtime objects (its MLflow ``conda.yaml`` lists
#: that runtime), so only the AutoML runtime loads it: the curated ai-ml-automl image of
#: automl-env.yml, the environment package.py and evaluate.py load it in on Azure. A train2
#: RandomForest needs the project's pinned set (score-env.yml).
TRAINER_ENVIRONMENTS: dict[str, str] = {
    "automl": "taxi-fare-automl-env",
    "rf": "taxi-fare-score-env",
}
#: The spec each scoring environment is registered from (register-environment.yml).
ENVIRONMENT_SPECS: dict[str, Path] = {
    "taxi-fare-automl-env": REPO_ROOT / "mlops" / "azureml" / "train" / "automl-env.yml",
    "taxi-fare-score-env": REPO_ROOT / "mlops" / "azureml" / "deploy" / "score-env.yml",
}


@dataclass(frozen=True)
class ModelRelease:
    """The model an environment must run; ``version`` is None before the first release."""

    name: str
    version: int | None
    registry: str

    def azureml_uri(self) -> str:
        """Reference an Azure ML deployment uses to take the model from the registry."""
        if self.version is None:
            raise MlopsError(f"model {self.name} has no released version yet")
        return f"azureml://registries/{self.registry}/models/{self.name}/versions/{self.version}"


@dataclass(frozen=True)
class EnvironmentRelease:
    """The scoring environment a deployment runs: registered once, shared via the registry."""

    name: str
    version: int | None

    def azureml_uri(self, registry: str) -> str:
        if self.version is None:
            raise MlopsError(f"environment {self.name} has no pinned version yet")
        return f"azureml://registries/{registry}/environments/{self.name}/versions/{self.version}"


@dataclass(frozen=True)
class CodeRelease:
    """The commit whose data-science/src (score.py, taxi_fare) a deployment runs."""

    commit: str | None


@dataclass(frozen=True)
class RolloutSettings:
    """Blue/green plan: traffic % for the new colour per step (smoke test after each)."""

    steps: tuple[int, ...]
    latency_ms: int


@dataclass(frozen=True)
class Release:
    """One parsed, validated release file."""

    env: str
    model: ModelRelease
    rollout: RolloutSettings
    # Pins of what else a deployment runs (issue 12 #8); None where the file has no such key.
    environment: EnvironmentRelease | None = None
    code: CodeRelease | None = None

    def with_version(self, version: int | None) -> Release:
        return replace(self, model=replace(self.model, version=version))

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "model": {
                "name": self.model.name,
                "version": self.model.version,
                "registry": self.model.registry,
            },
            "rollout": {"steps": list(self.rollout.steps), "latency_ms": self.rollout.latency_ms},
        }
        if self.environment is not None:
            data["environment"] = {
                "name": self.environment.name,
                "version": self.environment.version,
            }
        if self.code is not None:
            data["code"] = {"commit": self.code.commit}
        return data


def releases_dir(override: Path | str | None = None) -> Path:
    """Folder of the release files: the argument, else ``$MLOPS_RELEASES_DIR``, else the repo's."""
    if override is not None:
        return Path(override)
    env = os.environ.get(RELEASES_DIR_ENV)
    return Path(env) if env else DEFAULT_RELEASES_DIR


def release_path(env: str, directory: Path | str | None = None) -> Path:
    """Path of the release file of ``env`` (stage or prod)."""
    if env not in RELEASE_ENVIRONMENTS:
        raise MlopsError(f"no release file for environment {env!r}: expected stage or prod")
    return releases_dir(directory) / f"{env}.yml"


def load_release(env: str, directory: Path | str | None = None) -> Release:
    """Read and validate the release file of ``env``."""
    return load_release_file(release_path(env, directory), env)


def load_release_file(path: Path, env: str | None = None) -> Release:
    """Read and validate one release file; ``env`` defaults to the file's stem."""
    import yaml

    env = env or path.stem
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MlopsError(f"{path}: release file not found") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise MlopsError(f"{path}: not valid YAML{where}") from None
    return parse_release(data, path, env)


def parse_release(data: object, path: Path | str, env: str) -> Release:
    """Validate the parsed YAML of a release file; errors name the file and the key."""

    def fail(key: str, problem: str) -> MlopsError:
        return MlopsError(f"{path}: key '{key}': {problem}")

    top = _mapping(data, "(top level)", _TOP_KEYS, fail)
    model = _mapping(top.get("model"), "model", _MODEL_KEYS, fail)
    rollout = _mapping(top.get("rollout"), "rollout", _ROLLOUT_KEYS, fail)

    name = model.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise fail(
            "model.name", f"expected a model name (letters, digits, '-', '_', '.'), got {name!r}"
        )
    registry = model.get("registry")
    if not isinstance(registry, str) or not _NAME.match(registry):
        raise fail("model.registry", f"expected a registry name, got {registry!r}")
    if "version" not in model:
        raise fail("model.version", "missing (use null before the first release)")
    version = model["version"]
    if version is not None and (
        isinstance(version, bool) or not isinstance(version, int) or version < 1
    ):
        raise fail("model.version", f"expected a positive integer or null, got {version!r}")

    steps = rollout.get("steps")
    if not isinstance(steps, list) or not steps:
        raise fail(
            "rollout.steps", f"expected a non-empty list of traffic percentages, got {steps!r}"
        )
    for step in steps:
        if isinstance(step, bool) or not isinstance(step, int) or not 1 <= step <= 100:
            raise fail("rollout.steps", f"expected integers from 1 to 100, got {step!r}")
    if any(b <= a for a, b in itertools.pairwise(steps)):
        raise fail("rollout.steps", f"expected strictly increasing percentages, got {steps!r}")
    if steps[-1] != 100:
        raise fail("rollout.steps", f"the last step must be 100 (all traffic), got {steps[-1]!r}")
    latency = rollout.get("latency_ms")
    if isinstance(latency, bool) or not isinstance(latency, int) or latency < 1:
        raise fail(
            "rollout.latency_ms", f"expected a positive integer (milliseconds), got {latency!r}"
        )

    return Release(
        env=env,
        model=ModelRelease(name=name, version=version, registry=registry),
        rollout=RolloutSettings(steps=tuple(steps), latency_ms=latency),
        environment=_environment(top, fail),
        code=_code(top, fail),
    )


def _environment(top: dict[str, Any], fail: Any) -> EnvironmentRelease | None:
    if "environment" not in top:
        return None
    env = _mapping(top["environment"], "environment", _ENVIRONMENT_KEYS, fail)
    name = env.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise fail("environment.name", f"expected an environment name, got {name!r}")
    if "version" not in env:
        raise fail("environment.version", "missing (use null before the first release)")
    version = env["version"]
    if version is not None and (
        isinstance(version, bool) or not isinstance(version, int) or version < 1
    ):
        raise fail("environment.version", f"expected a positive integer or null, got {version!r}")
    return EnvironmentRelease(name=name, version=version)


def _code(top: dict[str, Any], fail: Any) -> CodeRelease | None:
    if "code" not in top:
        return None
    code = _mapping(top["code"], "code", _CODE_KEYS, fail)
    if "commit" not in code:
        raise fail("code.commit", "missing (use null before the first release)")
    commit = code["commit"]
    if commit is not None and (not isinstance(commit, str) or not _COMMIT.match(commit)):
        raise fail(
            "code.commit", f"expected a full 40-character git commit or null, got {commit!r}"
        )
    return CodeRelease(commit=commit)


def _mapping(value: object, key: str, allowed: tuple[str, ...], fail: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        if value is None and key != "(top level)":
            raise fail(key, "missing")
        raise fail(key, f"expected a mapping, got {type(value).__name__}")
    for extra in value:
        if extra not in allowed:
            full = extra if key == "(top level)" else f"{key}.{extra}"
            raise fail(str(full), f"unknown key (allowed: {', '.join(allowed)})")
    return value


_HEADER = """\
# Which model the {env} environment must run, and how it rolls out.
# Change it by pull request: merging triggers the {env} pipelines, and git history
# is the audit log of what ran where. `mlops promote` / `mlops rollback` rewrite it
# locally. version: null means nothing has been released yet.
"""


def render_release(release: Release) -> str:
    """The file text for a release (stable layout, so diffs in PRs stay one line)."""
    version = "null" if release.model.version is None else str(release.model.version)
    steps = ", ".join(str(s) for s in release.rollout.steps)
    pins = ""
    if release.environment is not None:
        env_version = release.environment.version
        pins += (
            "environment:\n"
            + f"  name: {release.environment.name}\n"
            + f"  version: {'null' if env_version is None else env_version}\n"
        )
    if release.code is not None:
        pins += f"code:\n  commit: {release.code.commit or 'null'}\n"
    return (
        _HEADER.format(env=release.env)
        + "model:\n"
        + f"  name: {release.model.name}\n"
        + f"  version: {version}\n"
        + f"  registry: {release.model.registry}\n"
        + pins
        + "rollout:\n"
        + f"  steps: [{steps}]\n"
        + f"  latency_ms: {release.rollout.latency_ms}\n"
    )


def write_release(release: Release, directory: Path | str | None = None) -> Path:
    """Write the release file atomically (a reader never sees half a file)."""
    path = release_path(release.env, directory)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(render_release(release), encoding="utf-8")
    os.replace(tmp, path)
    return path


def check_pins_present(release: Release) -> None:
    """An Azure deployment runs pinned things only: environment version and code commit."""
    missing = []
    if release.environment is None or release.environment.version is None:
        missing.append("environment.version")
    if release.code is None or release.code.commit is None:
        missing.append("code.commit")
    if missing:
        raise MlopsError(
            f"the {release.env} release pins no {' and no '.join(missing)}; an Azure "
            "deployment runs exactly the pinned scoring environment and code commit"
        )


def environment_spec(name: str) -> Path:
    """The spec file of scoring environment ``name``; an error for one the repo does not define."""
    if name not in ENVIRONMENT_SPECS:
        raise MlopsError(
            f"environment {name!r} is not a scoring environment of this repository "
            f"(expected one of {', '.join(ENVIRONMENT_SPECS)})"
        )
    return ENVIRONMENT_SPECS[name]


def check_environment_follows_trainer(release: Release, tags: dict[str, str], where: str) -> None:
    """The release pins the scoring environment its model's trainer needs (``trainer`` tag).

    ``tags`` are the model version's tags; a version without a known trainer tag is refused,
    since nothing then says which runtime can load it.
    """
    name, version = release.model.name, release.model.version
    trainer = tags.get("trainer")
    if trainer not in TRAINER_ENVIRONMENTS:
        raise MlopsError(
            f"version {version} of {name} in {where} has trainer tag {trainer!r}, not one of "
            f"{', '.join(TRAINER_ENVIRONMENTS)}: cannot tell which scoring environment loads it"
        )
    expected = TRAINER_ENVIRONMENTS[trainer]
    pinned = release.environment.name if release.environment is not None else None
    if pinned != expected:
        raise MlopsError(
            f"the {release.env} release pins environment {pinned}, but version {version} of "
            f"{name} was trained by {trainer} and loads only in {expected}: pin "
            f"{expected} at the version of {environment_spec(expected).name}"
        )
