"""The three online servers the online bench compares, all on 127.0.0.1 and always stopped.

- ours: ``score.py`` in the Azure ML inference server (``mlops.endpoints.LocalServer``);
- noop: a ``score.py`` that returns a constant in the same server (the server's floor);
- mlflow: ``mlflow models serve --env-manager local`` of the same model (the peer).
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from mlops.endpoints.local_server import HOST, LocalServer

log = logging.getLogger(__name__)

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


class MlflowServer(LocalServer):
    """``mlflow models serve`` (uvicorn, one worker) of the same model: the peer."""

    ready_path = "/ping"

    def __init__(self, model_dir: Path, log_file: Path | None = None) -> None:
        # mlflow execs `uvicorn` by name: the venv's bin must be on PATH.
        path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
        super().__init__(model_dir, log_file=log_file, env={"PATH": path})

    @property
    def score_url(self) -> str:
        return f"{self.url}/invocations"

    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "mlflow", "models", "serve", "-m", str(self.model_dir),
            "--env-manager", "local", "-h", HOST, "-p", str(self.port), "-w", "1",
        ]  # fmt: skip

    def start(self, timeout: float = 120.0) -> MlflowServer:
        super().start(timeout)
        return self
