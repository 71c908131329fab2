"""Local twin of a managed online endpoint: blue and green inference servers behind a router.

The router listens on 127.0.0.1 and forwards ``POST /score`` to a colour the way Azure ML
does: the ``azureml-model-deployment`` header picks one colour; otherwise the traffic
split does (smooth weighted round robin, so 10% means exactly one request in ten).
:class:`LocalEndpoint` is the rollout :class:`~mlops.endpoints.rollout.Executor` of the
local twin, so the same decisions run against two real servers.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType

from mlops.endpoints.local_server import HOST, LocalServer
from mlops.endpoints.rollout import COLOURS, check_traffic
from mlops.endpoints.smoke import SmokeResult, smoke_test
from mlops.errors import MlopsError

logger = logging.getLogger(__name__)

DEPLOYMENT_HEADER = "azureml-model-deployment"
_MAX_BODY = 64 * 1024 * 1024


class TrafficSplitter:
    """Chooses the colour of each request by the traffic weights; thread-safe.

    The routing server of the emulated endpoint is ``mlops.ado.az.router``; this is its split.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._traffic: dict[str, int] = {}
        self._credit: dict[str, int] = {}
        self.backends: dict[str, str] = {}  # colour -> base URL of its server

    def set_traffic(self, traffic: Mapping[str, int]) -> None:
        check_traffic(traffic)
        missing = [c for c, p in traffic.items() if p > 0 and c not in self.backends]
        if missing:
            raise MlopsError(f"cannot route traffic to {', '.join(missing)}: not deployed")
        with self._lock:
            self._traffic = {c: int(p) for c, p in traffic.items()}
            self._credit = dict.fromkeys(self._traffic, 0)

    def traffic(self) -> dict[str, int]:
        with self._lock:
            return dict(self._traffic)

    def pick(self, requested: str | None) -> str | None:
        """The colour for one request: the header's, else by weight; None when none serves."""
        with self._lock:
            if requested:
                return requested if requested in self.backends else None
            weights = {c: p for c, p in self._traffic.items() if p > 0}
            if not weights:
                return None
            for colour, pct in weights.items():
                self._credit[colour] += pct
            chosen = max(weights, key=lambda c: (self._credit[c], c))
            self._credit[chosen] -= sum(weights.values())
            return chosen


def _handler(router: TrafficSplitter) -> type[BaseHTTPRequestHandler]:
    import requests

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # stdlib name
            logger.debug("router: " + format, *args)

        def _reply(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # http.server's naming
            self._reply(200, b"Healthy", "text/plain")

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > _MAX_BODY:
                self._reply(413, b'{"message": "request body too large"}', "application/json")
                return
            body = self.rfile.read(length)
            colour = router.pick(self.headers.get(DEPLOYMENT_HEADER))
            if colour is None:
                wanted = self.headers.get(DEPLOYMENT_HEADER)
                message = f"no deployment {wanted}" if wanted else "no deployment takes traffic"
                self._reply(404, f'{{"message": "{message}"}}'.encode(), "application/json")
                return
            try:
                upstream = requests.post(
                    router.backends[colour] + self.path,
                    data=body,
                    headers={"Content-Type": self.headers.get("Content-Type", "application/json")},
                    timeout=60,
                )
            except requests.RequestException as exc:
                logger.warning("router: %s did not answer: %s", colour, exc)
                self._reply(502, b'{"message": "deployment did not answer"}', "application/json")
                return
            self._reply(
                upstream.status_code,
                upstream.content,
                upstream.headers.get("Content-Type", "application/json"),
            )

    return Handler


class LocalEndpoint:
    """A local online endpoint: a router plus one inference server per deployed colour."""

    def __init__(self, log_dir: Path | None = None, latency_ms: float = 500.0) -> None:
        self.router = TrafficSplitter()
        self.servers: dict[str, LocalServer] = {}
        self.models: dict[str, Path] = {}
        self.next_model: Path | None = None  # what deploy() puts on a colour
        self.log_dir = log_dir
        self.latency_ms = latency_ms
        self._http = ThreadingHTTPServer((HOST, 0), _handler(self.router))
        self._http.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self._http.server_address[1]}"

    @property
    def score_url(self) -> str:
        return f"{self.url}/score"

    def start(self) -> LocalEndpoint:
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop every server and the router; safe to call twice."""
        for server in self.servers.values():
            server.stop()
        self.servers.clear()
        self.router.backends.clear()
        if self._thread is not None:
            self._http.shutdown()
            self._thread.join(timeout=10)
            self._thread = None
        self._http.server_close()

    def __enter__(self) -> LocalEndpoint:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # Executor -----------------------------------------------------------------------------

    def traffic(self) -> dict[str, int]:
        return self.router.traffic()

    def deploy_model(self, colour: str, model_dir: Path) -> None:
        """Serve ``model_dir`` on ``colour`` (replacing what it served) at its current traffic."""
        if colour not in COLOURS:
            raise MlopsError(f"unknown colour {colour!r}: expected blue or green")
        log_file = self.log_dir / f"{colour}.log" if self.log_dir else None
        server = LocalServer(model_dir, log_file=log_file)
        server.start()  # a model that cannot load fails here, before the old one goes
        old = self.servers.pop(colour, None)
        self.servers[colour] = server
        self.models[colour] = Path(model_dir)
        self.router.backends[colour] = server.url
        if old is not None:
            old.stop()

    def deploy(self, colour: str) -> None:
        if self.next_model is None:
            raise MlopsError("no model set for the next deployment")
        self.deploy_model(colour, self.next_model)

    def set_traffic(self, traffic: Mapping[str, int]) -> None:
        self.router.set_traffic(traffic)
        logger.info("traffic now %s", dict(traffic))

    def smoke(self, colour: str | None) -> SmokeResult:
        return smoke_test(self.score_url, latency_ms=self.latency_ms, deployment=colour)
