"""Which model a local endpoint serves, and ``mlops serve`` + ``mlops smoke-test`` end to end."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from mlops.cli import main
from mlops.endpoints.local_server import free_port
from mlops.errors import MlopsError
from mlops.registry.model_source import served_model
from tests.endpoint_models import ROOT, SAMPLES

RELEASE = """model:
  name: taxi-fare
  version: {version}
  registry: mlr-taxifare-0001
rollout:
  steps: [10, 50, 100]
  latency_ms: 500
"""


@pytest.fixture(scope="module")
def home(models: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """An MLOPS_HOME whose dev store holds taxi-fare v1 (good) and v2 (shifted, the champion),
    and release files naming no prod version; the environment is restored afterwards."""
    import mlflow
    from mlflow import MlflowClient

    root = tmp_path_factory.mktemp("serve-home")
    releases = root / "releases"
    releases.mkdir()
    for env in ("stage", "prod"):
        (releases / f"{env}.yml").write_text(RELEASE.format(version="null"))
    saved = {k: os.environ.get(k) for k in ("MLOPS_HOME", "MLOPS_RELEASES_DIR")}
    os.environ["MLOPS_HOME"] = str(root)
    os.environ["MLOPS_RELEASES_DIR"] = str(releases)
    try:
        store = root / "dev"
        store.mkdir()
        uri = f"sqlite:///{store / 'mlflow.db'}"
        client = MlflowClient(uri, uri)
        experiment = client.create_experiment("train", artifact_location=(store / "art").as_uri())
        client.create_registered_model("taxi-fare")
        for kind in ("good", "shifted"):
            run = client.create_run(experiment)
            client.log_artifacts(run.info.run_id, str(models[kind]), "model")
            client.set_terminated(run.info.run_id)
            client.create_model_version(
                "taxi-fare", f"{run.info.artifact_uri}/model", run_id=run.info.run_id
            )
        mlflow.set_tracking_uri(None)
        yield root
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def test_dev_serves_its_champion_by_default(home: Path) -> None:
    model = served_model("dev")
    assert (model.version, model.store) == (2, "dev")
    assert model.path == home / "endpoints" / "models" / "dev" / "taxi-fare" / "2"
    assert (model.path / "MLmodel").is_file()


def test_an_explicit_version_is_served(home: Path) -> None:
    assert served_model("dev", 1).version == 1


@pytest.mark.parametrize(
    ("env", "version", "fragment"),
    [
        ("dev", 9, "version 9 of taxi-fare does not exist in dev"),
        ("prod", None, "the prod release file names no model version yet"),
        ("qa", None, "unknown environment 'qa'"),
    ],
)
def test_unservable_choices_are_clear_errors(
    home: Path, env: str, version: int | None, fragment: str
) -> None:
    with pytest.raises(MlopsError, match=fragment):
        served_model(env, version)


def test_serve_rejects_a_folder_without_a_model(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["serve", "--model-dir", str(tmp_path)])
    assert exit_info.value.code == 1
    assert f"error: {tmp_path}: no MLflow model (MLmodel file) found" in capsys.readouterr().err


def _as_a_foreground_command() -> None:
    """Ctrl-C (SIGINT) at its default, as a shell starts a foreground command. A suite run
    as a background job of a non-interactive shell inherits SIGINT ignored (bash: "If a
    command is followed by a '&' and job control is not active ... SIGINT and SIGQUIT are
    ignored"), and a Python started so keeps ignoring it: its Ctrl-C would never arrive."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.e2e
@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "term"])
def test_mlops_serve_then_smoke_test(
    home: Path, capsys: pytest.CaptureFixture, stop_signal: signal.Signals
) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlops", "serve", "--env", "dev", "--port", str(port)],
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        preexec_fn=_as_a_foreground_command,  # noqa: PLW1509 - it only resets one signal
    )
    try:
        assert proc.stdout is not None
        lines: list[str] = []  # the user-facing lines; log lines on stderr are mixed in
        for _ in range(50):
            line = proc.stdout.readline()
            if not line or line.startswith("press Ctrl-C"):
                break
            if line.startswith(("serving ", "scoring URL: ", "try: ")):
                lines.append(line)
        assert lines[0].strip() == "serving taxi-fare version 2 (dev, from the dev store)"
        url = f"http://127.0.0.1:{port}/score"
        assert lines[1].strip() == f"scoring URL: {url}"
        assert lines[2].startswith(f"try: curl -s -X POST {url}")
        main(["smoke-test", "--url", url, "--latency-ms", "10000"])
        assert capsys.readouterr().out.startswith(f"smoke test passed for {url}: 5 rows")
        body = (SAMPLES / "sample-records.json").read_text()
        rows = json.loads(body)["input_data"]
        got = requests.post(url, data=body, headers={"Content-Type": "application/json"}).json()
        # Version 2 is the "shifted" model: 4 + 2.5 * distance + 0.1 * passengers.
        want = [4.0 + 2.5 * r["distance"] + 0.1 * r["passengers"] for r in rows]
        assert got == pytest.approx(want, abs=1e-3)
    finally:
        # Ctrl-C reaches the whole foreground group; TERM usually only the process itself.
        if stop_signal == signal.SIGINT:
            os.killpg(proc.pid, stop_signal)
        else:
            proc.send_signal(stop_signal)
        try:
            # Its own stop is bounded (TERM 10 s, KILL 5 s, the group's reap); killing it
            # sooner would orphan the server it is stopping.
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
    # Either signal stops the server and its workers: the port is free again.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            requests.get(f"http://127.0.0.1:{port}/", timeout=1)
        except requests.ConnectionError:
            break
        time.sleep(0.2)
    else:
        pytest.fail(f"port {port} still answers after the server was stopped")
