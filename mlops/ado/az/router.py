"""The scoring URI of an emulated online endpoint: routes each request like Azure ML.

It reads the endpoint's traffic from the emulated Azure's state and the deployments'
servers from the run's server list whenever either file changes, so traffic set by any
later step takes effect at once. Key auth as on a managed endpoint with ``auth_mode: key``
(``Authorization: Bearer <key>``, 401 without it); routing, the ``azureml-model-deployment``
header and the weighted split are :class:`mlops.endpoints.local_endpoint.TrafficSplitter`'s.

Run as ``python -m mlops.ado.az.router --state ... --servers ... --workspace W --endpoint E
--port P``; it binds 127.0.0.1 only and ends when its process group is signalled.
"""

from __future__ import annotations

import argparse
import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from mlops.ado.az.ops import endpoint_keys
from mlops.endpoints.local_endpoint import DEPLOYMENT_HEADER, TrafficSplitter

log = logging.getLogger(__name__)
HOST = "127.0.0.1"


class _Source:
    """Traffic and backends, reloaded when the state or server files change."""

    def __init__(self, state: Path, servers: Path, workspace: str, endpoint: str) -> None:
        self.state, self.servers = state, servers
        self.workspace, self.endpoint = workspace, endpoint
        self.router = TrafficSplitter()
        self.key = ""
        self._seen: tuple[float, float] = (-1.0, -1.0)
        self._lock = threading.Lock()

    def refresh(self) -> TrafficSplitter:
        with self._lock:
            stamp = (
                self.state.stat().st_mtime if self.state.exists() else 0.0,
                self.servers.stat().st_mtime if self.servers.exists() else 0.0,
            )
            if stamp == self._seen:
                return self.router
            data = json.loads(self.state.read_text())
            running = json.loads(self.servers.read_text()) if self.servers.exists() else {}
            endpoint = data["workspaces"][self.workspace]["online_endpoints"][self.endpoint]
            prefix = f"deployment:{self.workspace}/{self.endpoint}/"
            self.router.backends = {
                key[len(prefix) :]: entry["url"]
                for key, entry in running.items()
                if key.startswith(prefix)
            }
            traffic = {k: int(v) for k, v in (endpoint.get("traffic") or {}).items()}
            live = {k: v for k, v in traffic.items() if v > 0 and k in self.router.backends}
            self.router.set_traffic(live if sum(live.values()) == 100 else {})
            self.key = endpoint_keys(data, self.workspace, self.endpoint)["primaryKey"]
            self._seen = stamp
            return self.router


def _handler(source: _Source) -> type[BaseHTTPRequestHandler]:
    import requests

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            log.debug("router: " + format, *args)

        def _reply(self, status: int, body: bytes, content_type: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            self._reply(200, b"Healthy", "text/plain")

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            router = source.refresh()
            if self.headers.get("Authorization", "") != f"Bearer {source.key}":
                self._reply(401, b'{"message": "missing or wrong endpoint key"}')
                return
            wanted = self.headers.get(DEPLOYMENT_HEADER)
            colour = router.pick(wanted)
            if colour is None:
                message = f"no deployment {wanted}" if wanted else "no deployment takes traffic"
                self._reply(404, json.dumps({"message": message}).encode())
                return
            try:
                upstream = requests.post(
                    router.backends[colour] + "/score",
                    data=body,
                    headers={"Content-Type": self.headers.get("Content-Type", "application/json")},
                    timeout=60,
                )
            except requests.RequestException:
                self._reply(502, b'{"message": "deployment did not answer"}')
                return
            self._reply(
                upstream.status_code,
                upstream.content,
                upstream.headers.get("Content-Type", "application/json"),
            )

    return Handler


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="mlops.ado.az.router")
    parser.add_argument("--state", type=Path, required=True)
    parser.add_argument("--servers", type=Path, required=True)
    parser.add_argument("--workspace", required=True)
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    source = _Source(args.state, args.servers, args.workspace, args.endpoint)
    server = ThreadingHTTPServer((HOST, args.port), _handler(source))
    server.daemon_threads = True
    log.info("router for %s/%s on %s:%s", args.workspace, args.endpoint, HOST, args.port)
    server.serve_forever()


if __name__ == "__main__":
    main()
