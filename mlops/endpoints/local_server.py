"""Start and stop a local Azure ML inference server (score.py + one model) on loopback."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

from mlops.errors import MlopsError
from mlops.settings import REPO_ROOT

logger = logging.getLogger(__name__)

SCORE_SCRIPT = REPO_ROOT / "data-science" / "src" / "score.py"
HOST = "127.0.0.1"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


class LocalServer:
    """One inference server process group serving ``score.py`` with the model in ``model_dir``.

    Use as a context manager, or call ``start()`` and always ``stop()``. Subclasses serve
    other servers by overriding ``command()``, ``ready_path`` and ``score_url``.
    """

    #: The path that answers 200 once the model is loaded.
    ready_path = "/"

    def __init__(
        self,
        model_dir: Path,
        port: int | None = None,
        log_file: Path | None = None,
        env: dict[str, str] | None = None,
        workers: int = 1,
    ) -> None:
        self.model_dir = Path(model_dir)
        self.port = port or free_port()
        self.log_file = log_file
        self.extra_env = env or {}
        self.workers = workers
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_handle = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def score_url(self) -> str:
        return f"{self.url}/score"

    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "mlops.endpoints.inference_server",
            "--entry_script", str(SCORE_SCRIPT),
            "--model_dir", str(self.model_dir),
            "--port", str(self.port),
            "--worker_count", str(self.workers),
        ]  # fmt: skip

    def start(self, timeout: float = 60.0) -> LocalServer:
        """Start the server and wait until the model is loaded and it answers."""
        env = {**os.environ, **self.extra_env}
        env.setdefault("AML_APP_ROOT", str(SCORE_SCRIPT.parent))
        env["PYTHONUNBUFFERED"] = "1"
        # gunicorn 26 opens a control socket at one fixed path per user; two local servers
        # (blue and green) would fight over it, and nothing here uses it.
        env["GUNICORN_CMD_ARGS"] = "--no-control-socket"
        if self.log_file is not None:
            self.log_file.parent.mkdir(parents=True, exist_ok=True)
            self._log_handle = open(self.log_file, "ab")  # noqa: SIM115 - closed in stop()
            out = self._log_handle
        else:
            out = subprocess.DEVNULL
        # Own session: stop() signals the whole group (gunicorn master and its workers).
        self._proc = subprocess.Popen(
            self.command(), env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        logger.info("inference server for %s listening on %s", self.model_dir, self.url)
        return self

    def _wait_ready(self, timeout: float) -> None:
        import requests

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                hint = f"; see {self.log_file}" if self.log_file else ""
                raise MlopsError(
                    f"server for {self.model_dir} exited with code "
                    f"{self._proc.returncode} before serving{hint}"
                )
            try:
                if requests.get(self.url + self.ready_path, timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise MlopsError(f"server on {self.url} not ready after {timeout:.0f} s")

    def stop(self) -> None:
        """Terminate the process group (TERM, then KILL after 10 s), workers included.

        The server's workers inherit its listening socket, so the port answers until the
        last of them has exited, not just the leader: wait for the whole group.
        """
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
        if proc is not None:
            _reap_group(proc.pid)
        if self._log_handle is not None:
            self._log_handle.close()
            self._log_handle = None

    def wait(self) -> int:
        """Block until the server exits (foreground ``mlops serve``)."""
        if self._proc is None:
            return 0
        return self._proc.wait()

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # a member we may not signal still exists
        return True
    return True


def _reap_group(pgid: int, timeout: float = 5.0) -> None:
    """Wait for every process of group ``pgid`` to exit; KILL what is left after ``timeout``."""
    deadline = time.monotonic() + timeout
    while _group_alive(pgid):
        if time.monotonic() >= deadline:
            logger.warning("server processes of group %d outlived TERM; killing them", pgid)
            try:
                os.killpg(pgid, signal.SIGKILL)
            except ProcessLookupError:
                return
            deadline = time.monotonic() + timeout
            while _group_alive(pgid) and time.monotonic() < deadline:
                time.sleep(0.05)
            return
        time.sleep(0.05)
