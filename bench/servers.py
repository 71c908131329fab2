"""The three online servers the online bench compares, all on 127.0.0.1 and always stopped.

- ours: ``score.py`` in the Azure ML inference server (``mlops.endpoints.LocalServer``);
- noop: a ``score.py`` that returns a constant in the same server (the server's floor);
- mlflow: ``mlflow models serve --env-manager local`` of the same model (the peer).
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from mlops.endpoints.local_server import LocalServer, free_port

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
NOOP_SCRIPT = '''"""No-op entry script: the inference server's own cost per request."""


def init():
    pass


def run(raw_data):
    return [0.0]
'''


class EntryScriptServer(LocalServer):
    """``LocalServer`` with another entry script (the no-op one)."""

    def __init__(self, entry_script: Path, model_dir: Path, log_file: Path | None = None) -> None:
        super().__init__(model_dir, log_file=log_file)
        self.entry_script = entry_script

    def command(self) -> list[str]:
        argv = super().command()
        argv[argv.index("--entry_script") + 1] = str(self.entry_script)
        return argv


def noop_server(folder: Path, model_dir: Path, log_file: Path | None = None) -> LocalServer:
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "noop_score.py"
    script.write_text(NOOP_SCRIPT)
    return EntryScriptServer(script, model_dir, log_file=log_file)


class MlflowServer:
    """``mlflow models serve`` (uvicorn, one worker) as a process group; a context manager."""

    def __init__(self, model_dir: Path, log_file: Path | None = None) -> None:
        self.model_dir = model_dir
        self.port = free_port()
        self.log_file = log_file
        self._proc: subprocess.Popen[bytes] | None = None
        self._log = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def score_url(self) -> str:
        return f"{self.url}/invocations"

    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "mlflow", "models", "serve", "-m", str(self.model_dir),
            "--env-manager", "local", "-h", HOST, "-p", str(self.port), "-w", "1",
        ]  # fmt: skip

    def start(self, timeout: float = 120.0) -> MlflowServer:
        if self.log_file is not None:
            self.log_file.parent.mkdir(parents=True, exist_ok=True)
            self._log = open(self.log_file, "ab")  # noqa: SIM115 - closed in stop()
        out = self._log if self._log is not None else subprocess.DEVNULL
        # mlflow execs `uvicorn` by name: the venv's bin must be on PATH.
        bin_dir = str(Path(sys.executable).parent)
        env = {**os.environ, "PATH": os.pathsep.join([bin_dir, os.environ.get("PATH", "")])}
        self._proc = subprocess.Popen(self.command(), env=env, stdout=out,
                                      stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self, timeout: float) -> None:
        import requests

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                raise RuntimeError(f"mlflow models serve exited with {self._proc.returncode}")
            try:
                if requests.get(self.url + "/ping", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"mlflow models serve on {self.url} not ready after {timeout:.0f} s")

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
            except ProcessLookupError:
                pass
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> MlflowServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
