"""A sequential single-row load generator over one keep-alive HTTP connection."""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Callable, Sequence
from urllib.parse import urlsplit


class BadResponse(RuntimeError):
    """The server answered a bench request with something other than one prediction."""


def one_prediction(body: bytes) -> None:
    """Raise BadResponse unless ``body`` is a JSON list (or MLflow's ``predictions``) of one."""
    payload = json.loads(body)
    if isinstance(payload, dict):
        payload = payload.get("predictions")
    if not isinstance(payload, list) or len(payload) != 1:
        raise BadResponse(f"expected one prediction, got {body[:120]!r}")


class Client:
    """POSTs JSON bodies to one URL, reconnecting only when the server closes."""

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        parts = urlsplit(url)
        self.path = parts.path or "/"
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
        #: Headers of the last response (the inference server's timers among them).
        self.headers: http.client.HTTPMessage | None = None

    def post(self, body: bytes) -> bytes:
        headers = {"Content-Type": "application/json"}
        try:
            self.conn.request("POST", self.path, body=body, headers=headers)
            response = self.conn.getresponse()
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
            self.conn.close()  # the server dropped an idle keep-alive connection: retry once
            self.conn.request("POST", self.path, body=body, headers=headers)
            response = self.conn.getresponse()
        data = response.read()
        self.headers = response.headers
        if response.will_close:
            self.conn.close()
        if response.status != 200:
            raise BadResponse(f"HTTP {response.status}: {data[:200]!r}")
        return data

    def close(self) -> None:
        self.conn.close()


def timed_requests(
    url: str,
    bodies: Sequence[bytes],
    count: int,
    check: Callable[[bytes], None] = one_prediction,
) -> tuple[list[float], float]:
    """Send ``count`` requests (cycling through ``bodies``); per-request seconds and wall time."""
    if not bodies:
        raise ValueError("no request bodies")
    client = Client(url)
    latencies: list[float] = []
    try:
        started = time.perf_counter()
        for i in range(count):
            sent = time.perf_counter()
            data = client.post(bodies[i % len(bodies)])
            latencies.append(time.perf_counter() - sent)
            check(data)
        wall = time.perf_counter() - started
    finally:
        client.close()
    return latencies, wall
