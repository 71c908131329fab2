"""Release day, rehearsed only through ``mlops ado run`` on a clone of this repository.

dev training -> stage PR (pr-validation) -> merge -> stage pipelines -> prod PR -> merge ->
prod pipelines -> new data -> retrain -> the same way -> stage.yml reverted -> stage back on
the old version. After each pipeline the emulated Azure (``mlops ado state --json``) is
asserted. Tiny data (300 trips a sample file) and the random_forest trainer with 20 trees
keep it short.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlops.ado import zygote
from mlops.settings import REPO_ROOT

# 26 pipeline runs, in `make test` (the first file its xdist workers take: e2e(minutes=4)).
# Measured with every process counted (`python tests/mlops/ado/cpu_of.py .venv/bin/python -m
# pytest -q -p no:xdist tests/mlops/ado/test_release_day.py`) on the shared 2-core machine,
# 2 Dec 2026: 294 s CPU, 7 min 20 s wall at load 4-5 before the 20 trees, the bytecode, the
# runs through the pre-forked Python and its onnx/flask/SQLAlchemy-store preloads; after them
# 214 s CPU, 4 min 23 s wall (load 0.3 at the start, 5.6 at the end). docs/azure-devops.md
# has where the time goes.
pytestmark = [pytest.mark.e2e(minutes=4), pytest.mark.timeout(1800)]

PIPELINES = "mlops/devops-pipelines"
REGISTRY = "mlr-taxifare-0001"
WS = {env: f"mlw-taxifare-0001{env}" for env in ("dev", "stage", "prod")}
ONLINE = {env: f"ep-taxifare-0001{env}" for env in ("stage", "prod")}
BATCH = {env: f"bep-taxifare-0001{env}" for env in ("stage", "prod")}
GIT = ["git", "-c", "user.email=release@example.com", "-c", "user.name=release"]
ROWS = 300  # per sample file in the first extract; the new data doubles it
TREES = 20  # the forest's n_estimators in the clone's training pipeline (100 in the repository)


class Team:
    """A clone of the repository with a bare origin, and the team's commands."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.home = base / "home"
        self.work = base / "work"
        self.runs: list[dict[str, Any]] = []
        self._state: dict[str, Any] | None = None  # what `mlops ado state` said since the last run
        source = base / "source"
        files = subprocess.run(
            ["git", "ls-files", "-co", "--exclude-standard", "-z"],
            cwd=REPO_ROOT, capture_output=True, check=True,
        ).stdout.decode().split("\0")  # fmt: skip
        for rel in filter(None, files):
            if (REPO_ROOT / rel).is_file():
                target = source / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(REPO_ROOT / rel, target)
        for csv in sorted((source / "data" / "sample").glob("*.csv")):
            lines = csv.read_text().splitlines(keepends=True)
            csv.write_text("".join(lines[: ROWS + 1]))
        # Fewer trees, as `--set inputs.n_estimators=20` would give (pipeline.yml's input): the
        # forest is trained twice and loaded by every inference server the day starts (15).
        spec = source / "mlops" / "azureml" / "train" / "pipeline.yml"
        text, count = re.subn(
            r"(?m)^  n_estimators: \d+$", f"  n_estimators: {TREES}", spec.read_text()
        )
        assert count == 1, "pipeline.yml's n_estimators input moved"
        spec.write_text(text)
        self.git("init", "-q", "-b", "main", cwd=source)
        self.git("add", "-A", cwd=source)
        self.git("commit", "-qm", "the repository as it is", cwd=source)
        self.git("clone", "-q", "--bare", str(source), str(base / "origin.git"), cwd=base)
        self.git("clone", "-q", str(base / "origin.git"), str(self.work), cwd=base)

    def env(self) -> dict[str, str]:
        """The team's shell: this home, and Python's default of writing bytecode (this machine
        sets PYTHONDONTWRITEBYTECODE=1, under which each of the day's ~350 Python commands
        compiled the clone's modules again)."""
        env = {**os.environ, "MLOPS_HOME": str(self.home)}
        for name in ("MLOPS_AZURE_EMULATOR", "MLOPS_ADO_RUN_DIR", "PYTHONDONTWRITEBYTECODE"):
            env.pop(name, None)
        return env

    def mlops(self, *args: str) -> tuple[list[str], dict[str, str]]:
        """``python -m mlops ARGS`` and its environment, through the home's pre-forked Python
        once the first run has started it, as each step's ``python -m mlops`` goes (the client
        runs the command the ordinary way when the server is not there or declines it)."""
        env, server = self.env(), zygote.current(self.home)
        if server is None:
            return [sys.executable, "-m", "mlops", *args], env
        return [sys.executable, str(zygote.CLIENT), "-m", "mlops", *args], {**env, **server.env()}

    def git(self, *args: str, cwd: Path | None = None) -> str:
        done = subprocess.run(
            [*GIT, *args], cwd=cwd or self.work, capture_output=True, text=True, check=True
        )
        return done.stdout.strip()

    def run(self, pipeline: str, *args: str, ok: bool = True) -> dict[str, Any]:
        summary = self.base / f"summary-{len(self.runs):02d}.json"
        command, env = self.mlops(
            "ado", "run", f"{PIPELINES}/{pipeline}.yml", *args, "--summary-json", str(summary)
        )
        done = subprocess.run(
            command, cwd=self.work, env=env, capture_output=True, text=True, check=False
        )
        record = json.loads(summary.read_text()) if summary.is_file() else {}
        record["returncode"], record["stderr"] = done.returncode, done.stderr
        self._state = None
        self.runs.append(record)
        if ok:
            assert done.returncode == 0, f"{pipeline} failed:\n{done.stderr[-6000:]}"
        else:
            assert done.returncode != 0, f"{pipeline} should have failed:\n{done.stderr[-3000:]}"
        return record

    def invoke(self, env: str, request: str) -> Any:
        """``az ml online-endpoint invoke`` outside a run; its servers are stopped after."""
        from mlops.ado.az import servers

        run_dir = self.base / "invoke"
        run_dir.mkdir(exist_ok=True)
        env_vars = {**self.env(), "MLOPS_ADO_RUN_DIR": str(run_dir),
                    "AZURE_EXTENSION_DIR": str(self.base / "ext")}  # fmt: skip
        az = [sys.executable, "-m", "mlops.ado.az"]
        try:
            subprocess.run([*az, "extension", "add", "--name", "ml", "--yes"],
                           cwd=self.work, env=env_vars, check=True)  # fmt: skip
            done = subprocess.run(
                [*az, "ml", "online-endpoint", "invoke", "--name", ONLINE[env],
                 "--resource-group", f"rg-taxifare-0001{env}", "--workspace-name", WS[env],
                 "--request-file", request],
                cwd=self.work, env=env_vars, capture_output=True, text=True, check=False,
            )  # fmt: skip
        finally:
            stopped = servers.stop_run(run_dir)
        assert done.returncode == 0, done.stderr
        assert any(key.startswith("router:") for key in stopped), stopped
        return json.loads(done.stdout)

    def state(self) -> dict[str, Any]:
        """``mlops ado state --json``, asked once after each run (only runs change it)."""
        if self._state is not None:
            return json.loads(json.dumps(self._state))
        command, env = self.mlops("ado", "state", "--json")
        done = subprocess.run(
            command, cwd=self.work, env=env, capture_output=True, text=True, check=True
        )
        self._state = json.loads(done.stdout)
        return json.loads(done.stdout)

    def release(self, env: str, version: int, commit: str) -> None:
        """Edit mlops/releases/<env>.yml the way the PR does (model, environment, code pins)."""
        path = self.work / "mlops" / "releases" / f"{env}.yml"
        data = yaml.safe_load(path.read_text())
        data["model"]["version"] = version
        spec = yaml.safe_load((self.work / "mlops/azureml/deploy/score-env.yml").read_text())
        data["environment"]["version"] = spec["version"]
        data["code"]["commit"] = commit
        path.write_text(yaml.safe_dump(data, sort_keys=False))

    def pull_request(self, branch: str, message: str, change: Any) -> str:
        self.git("checkout", "-q", "-b", branch, "main")
        change()
        self.git("add", "-A")
        self.git("commit", "-qm", message)
        return branch

    def merge(self, branch: str) -> None:
        self.git("checkout", "-q", "main")
        self.git("merge", "-q", "--ff-only", branch)
        self.git("push", "-q", "origin", "main")

    def validate_pr(self, env: str, ok: bool = True) -> dict[str, Any]:
        return self.run(
            "pr-validation", "--pr-changed", f"mlops/releases/{env}.yml",
            "--skip-job", "validate.test", ok=ok,
        )  # fmt: skip


def _served(state: dict[str, Any], env: str) -> tuple[str, dict[str, int], list[dict[str, int]]]:
    endpoint = state["workspaces"][WS[env]]["online_endpoints"][ONLINE[env]]
    live = [name for name, pct in endpoint["traffic"].items() if pct]
    assert len(live) == 1 and endpoint["traffic"][live[0]] == 100, endpoint["traffic"]
    return (
        endpoint["deployments"][live[0]]["model"],
        endpoint["traffic"],
        [h["traffic"] for h in endpoint["traffic_history"]],
    )


def _assert_history_clean(history: list[dict[str, int]]) -> None:
    """Once live, every change leaves 100 % of the traffic served (a blue/green step splits
    it, e.g. 90/10): never an empty or partial traffic, as re-applying a spec would leave."""
    live = False
    for traffic in history:
        live = live or sum(traffic.values()) > 0
        if live:
            assert sum(traffic.values()) == 100, history


def _registry_uri(version: int) -> str:
    return f"azureml://registries/{REGISTRY}/models/taxi-fare/versions/{version}"


def _registry_versions(team: Team) -> list[int]:
    return [v["version"] for v in team.state()["registries"][REGISTRY]["models"]["taxi-fare"]]


def _assert_online(team: Team, env: str, version: int) -> None:
    """The endpoint serves the registry copy of ``version`` on one deployment at 100 %."""
    model, _, history = _served(team.state(), env)
    assert model == _registry_uri(version)
    _assert_history_clean(history)


def _assert_batch(team: Team, env: str, version: int) -> None:
    batch = team.state()["workspaces"][WS[env]]["batch_endpoints"][BATCH[env]]
    default = batch["default_deployment"]
    assert batch["deployments"][default]["model"] == _registry_uri(version)


def _release(team: Team, env: str, version: int, testing: bool = True) -> None:
    """The pipelines of one environment after the merge, the state asserted after each."""
    team.run(f"{env}-register-in-{'staging' if env == 'stage' else 'production'}")
    assert version in _registry_versions(team)
    team.run(f"{env}-online-endpoint")
    _assert_online(team, env, version)
    team.run(f"{env}-batch-endpoint")
    _assert_batch(team, env, version)
    _assert_online(team, env, version)  # the batch pipeline left the online endpoint alone
    if env == "stage" and testing:
        team.run("stage-model-testing")
        registry = team.state()["registries"][REGISTRY]["models"]["taxi-fare"]
        tags = next(v["tags"] for v in registry if v["version"] == version)
        assert tags.get("stage_passed") == "true", tags
        _assert_online(team, env, version)
    if env == "prod":  # prod serves the registry copy; nothing is trained or copied there
        assert "taxi-fare" not in team.state()["workspaces"][WS["prod"]]["models"]


def test_release_day(tmp_path: Path) -> None:
    team = Team(tmp_path)
    main_commit = team.git("rev-parse", "HEAD")

    # 1. Train in dev: version 1 is registered (bootstrap: no champion yet).
    run = team.run("dev-model-training", "--param", "trainer=random_forest")
    assert run["stages"][0]["jobs"][0]["outputs"]["gate.promote"] == "true"
    dev = team.state()["workspaces"][WS["dev"]]["models"]["taxi-fare"]
    assert [v["version"] for v in dev] == [1]

    # 2. PR: stage.yml -> version 1; the PR check passes before the registry holds it.
    branch = team.pull_request(
        "release-stage-1", "Release v1 to stage", lambda: team.release("stage", 1, main_commit)
    )
    team.validate_pr("stage")
    assert "taxi-fare" not in team.state()["registries"][REGISTRY]["models"]
    team.merge(branch)

    # 3. The stage pipelines.
    _release(team, "stage", 1)
    assert _registry_versions(team) == [1]

    # 4. PR: prod.yml -> version 1, then the prod pipelines serve the registry copy.
    branch = team.pull_request(
        "release-prod-1", "Release v1 to prod", lambda: team.release("prod", 1, main_commit)
    )
    team.validate_pr("prod")
    team.merge(branch)
    _release(team, "prod", 1)

    # 5. New data arrives; the retrain registers a better version 2.
    def more_data() -> None:
        source = REPO_ROOT / "data" / "sample"
        for csv in sorted(source.glob("*.csv")):
            lines = csv.read_text().splitlines(keepends=True)
            new = team.work / "data" / "sample" / csv.name.replace("_00", "_10")
            new.write_text(lines[0] + "".join(lines[ROWS + 1 : 2 * ROWS + 1]))

    team.merge(team.pull_request("new-data", "More trips", more_data))
    data_commit = team.git("rev-parse", "HEAD")
    run = team.run("dev-model-training", "--param", "trainer=random_forest")
    assert run["stages"][0]["jobs"][0]["outputs"]["gate.promote"] == "true"
    dev = team.state()["workspaces"][WS["dev"]]["models"]["taxi-fare"]
    assert [v["version"] for v in dev] == [1, 2]

    # Negative: a prod PR naming version 2, which has not passed stage, fails the PR check.
    team.pull_request("prod-too-early", "v2 to prod", lambda: team.release("prod", 2, data_commit))
    run = team.validate_pr("prod", ok=False)
    failed = [j for s in run["stages"] for j in s["jobs"] if j["result"] == "Failed"]
    assert [j["name"] for j in failed] == ["release_check_prod"]
    team.git("checkout", "-q", "main")

    # 6. Version 2 the same way: stage, then prod.
    branch = team.pull_request(
        "release-stage-2", "Release v2 to stage", lambda: team.release("stage", 2, data_commit)
    )
    team.validate_pr("stage")
    team.merge(branch)
    stage_v2 = team.git("rev-parse", "HEAD")
    _release(team, "stage", 2)
    branch = team.pull_request(
        "release-prod-2", "Release v2 to prod", lambda: team.release("prod", 2, data_commit)
    )
    team.validate_pr("prod")
    team.merge(branch)
    _release(team, "prod", 2)
    assert _registry_versions(team) == [1, 2]

    # 7. stage.yml reverted: the stage pipelines bring version 1 back (it passed stage once).
    team.git("revert", "--no-edit", stage_v2)
    team.git("push", "-q", "origin", "main")
    _release(team, "stage", 1, testing=False)
    _assert_online(team, "prod", 2)
    _assert_batch(team, "prod", 2)

    # Negative: a rollout whose smoke test fails (a 1 ms latency budget) stops its job,
    # the run exits non-zero and the stage endpoint's traffic is as it was.
    before = _served(team.state(), "stage")

    def impatient() -> None:
        team.release("stage", 2, data_commit)
        path = team.work / "mlops" / "releases" / "stage.yml"
        data = yaml.safe_load(path.read_text())
        data["rollout"]["latency_ms"] = 1
        path.write_text(yaml.safe_dump(data, sort_keys=False))

    team.merge(team.pull_request("impatient", "v2 with a 1 ms budget", impatient))
    team.run("stage-register-in-staging")
    run = team.run("stage-online-endpoint", ok=False)
    assert "Roll out" in run["stderr"] and "failed" in run["stderr"]
    steps = run["stages"][0]["jobs"][0]["steps"]
    failed = [i for i, step in enumerate(steps) if step["result"] == "Failed"]
    assert len(failed) == 1 and "Roll out" in steps[failed[0]]["display"], steps
    assert all(step["result"] == "Skipped" for step in steps[failed[0] + 1 :] if not
               step["display"].startswith("Publish"))  # fmt: skip
    after = _served(team.state(), "stage")
    assert after[:2] == before[:2]
    _assert_history_clean(after[2])

    # `az ml online-endpoint invoke` answers from a real inference server of the live colour.
    answer = team.invoke("prod", "data/requests/sample-split.json")
    assert isinstance(answer, list | dict) and answer, answer

    # The runs shared one pre-forked Python (mlops/ado/zygote.py); it is stopped here.
    assert zygote.current(team.home) is not None
    assert zygote.stop(team.home) and zygote.current(team.home) is None


@pytest.fixture(autouse=True)
def _stop_prefork(tmp_path: Path) -> Iterator[None]:
    """A failing rehearsal leaves no pre-forked Python behind either."""
    yield
    zygote.stop(tmp_path / "home")
