"""Issue 12, defect 4: each environment's online size (config-infra-<env>.yml) reaches the
deployment the rollout creates, not the spec's dev size.

The path is followed link by link: entry pipeline -> allocate-traffic.yml parameters ->
the step's env -> `mlops rollout azure` flags -> the OnlineDeployment handed to
``online_deployments.begin_create_or_update``.
"""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from mlops.cli import main
from mlops.settings import REPO_ROOT

PIPELINES = REPO_ROOT / "mlops" / "devops-pipelines"
_VARIABLE = re.compile(r"^\$\{\{\s*variables\.(\w+)\s*\}\}$")
_PARAMETER = re.compile(r"^\$\{\{\s*parameters\.(\w+)\s*\}\}$")


def _config(env: str) -> dict[str, Any]:
    return yaml.safe_load((REPO_ROOT / f"config-infra-{env}.yml").read_text())["variables"]


def _steps(node: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        if "template" in node and isinstance(node["template"], str):
            found.append(node)
        for value in node.values():
            found += _steps(value)
    elif isinstance(node, list):
        for item in node:
            found += _steps(item)
    return found


def _rollout_arguments(env: str) -> list[str]:
    """The `mlops rollout azure` arguments the env's online pipeline would run."""
    pipeline = yaml.safe_load((PIPELINES / f"{env}-online-endpoint.yml").read_text())
    (ref,) = [s for s in _steps(pipeline) if s["template"] == "templates/allocate-traffic.yml"]
    config = _config(env)
    template = yaml.safe_load((PIPELINES / "templates" / "allocate-traffic.yml").read_text())
    params = {p["name"]: str(p["default"]) for p in template["parameters"] if "default" in p}
    for key, value in ref["parameters"].items():
        match = _VARIABLE.match(str(value))
        params[key] = str(config[match.group(1)]) if match else str(value)
    (task,) = [s for s in template["steps"] if "rollout azure" in str(s)]
    step_env = {}
    for key, value in task["env"].items():
        match = _PARAMETER.match(str(value))
        step_env[key] = params[match.group(1)] if match else str(value)
    script = task["inputs"]["inlineScript"].replace("\\\n", " ")
    line = next(x for x in script.splitlines() if "python -m mlops rollout azure" in x)
    words = shlex.split(line.split("python -m mlops", 1)[1])
    return [re.sub(r"^\$(\w+)$", lambda m: step_env.get(m.group(1), m.group(0)), w) for w in words]


class _Poller:
    def __init__(self, value: Any) -> None:
        self.value = value

    def result(self) -> Any:
        return self.value


class _Client:
    def __init__(self) -> None:
        endpoint = SimpleNamespace(name="ep", traffic={"blue": 100}, scoring_uri="https://e/s")
        self.created: list[Any] = []
        self.online_endpoints = SimpleNamespace(
            get=lambda name: endpoint,
            begin_create_or_update=_Poller,
            get_keys=lambda name: SimpleNamespace(primary_key="k"),
        )
        self.online_deployments = SimpleNamespace(begin_create_or_update=self._create)

    def _create(self, deployment: Any) -> _Poller:
        self.created.append(deployment)
        raise RuntimeError("stop after the deploy call")  # the rollout then restores traffic


@pytest.mark.parametrize("env", ["dev", "stage", "prod"])
def test_the_config_sizes_differ_where_the_issue_says(env: str) -> None:
    expected = {"dev": ("Standard_DS3_v2", 1), "stage": ("Standard_DS3_v2", 1)}
    expected["prod"] = ("Standard_DS4_v2", 2)
    config = _config(env)
    assert (config["online_instance_type"], config["online_instance_count"]) == expected[env]


@pytest.mark.parametrize("env", ["stage", "prod"])
def test_each_environment_deploys_its_configured_size(
    env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = tmp_path / f"{env}.yml"
    head = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    release.write_text(
        "model:\n  name: taxi-fare\n  version: 3\n  registry: mlr-taxifare-0001\n"
        "environment:\n  name: taxi-fare-score-env\n  version: 1\n"
        f"code:\n  commit: {head}\n"
        "rollout:\n  steps: [10, 100]\n  latency_ms: 500\n",
        encoding="utf-8",
    )
    words = _rollout_arguments(env)
    assert words[:2] == ["rollout", "azure"]
    # Point the file arguments at this test's release and result, keep every other flag.
    flags = dict(zip(words[2::2], words[3::2], strict=True))
    flags["--release"] = str(release)
    flags["--deployment-spec"] = str(REPO_ROOT / flags["--deployment-spec"])
    flags["--result-json"] = str(tmp_path / "rollout.json")
    flags["--endpoint"] = "ep"
    client = _Client()
    monkeypatch.setattr("mlops.aml_client.ml_client", lambda ref, credential=None: client)
    argv = ["rollout", "azure", *[x for kv in flags.items() for x in kv]]
    argv += ["--subscription-id", "s", "--resource-group", "g", "--workspace", "w"]
    with pytest.raises(SystemExit) as done:
        main(argv)
    assert done.value.code == 1  # the fake deploy failed on purpose, after recording it
    (deployment,) = client.created
    config = _config(env)
    assert deployment.instance_type == config["online_instance_type"]
    assert deployment.instance_count == int(config["online_instance_count"])
