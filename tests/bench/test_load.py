from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from bench.load import BadResponse, one_prediction, timed_requests


class Handler(BaseHTTPRequestHandler):
    """Echoes the request's one row as a one-element prediction list; 400 on 'bad'."""

    protocol_version = "HTTP/1.1"
    seen: ClassVar[list[dict]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        Handler.seen.append(body)
        status, payload = (400, {"message": "bad"}) if body.get("bad") else (200, [body["x"]])
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if body.get("close"):
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/score"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_sends_count_requests_cycling_through_bodies(url: str) -> None:
    Handler.seen.clear()
    bodies = [json.dumps({"x": i}).encode() for i in range(3)]
    latencies, wall = timed_requests(url, bodies, 7)
    assert len(latencies) == 7
    assert [b["x"] for b in Handler.seen] == [0, 1, 2, 0, 1, 2, 0]
    assert all(s > 0 for s in latencies) and wall >= sum(latencies)


def test_reconnects_when_the_server_closes(url: str) -> None:
    bodies = [json.dumps({"x": 1, "close": True}).encode()]
    latencies, _ = timed_requests(url, bodies, 3)
    assert len(latencies) == 3


def test_error_status_stops_the_run(url: str) -> None:
    with pytest.raises(BadResponse, match="HTTP 400"):
        timed_requests(url, [json.dumps({"bad": True}).encode()], 2)


def test_one_prediction_accepts_both_response_shapes() -> None:
    one_prediction(b"[12.5]")
    one_prediction(b'{"predictions": [12.5]}')
    with pytest.raises(BadResponse, match="expected one prediction"):
        one_prediction(b"[1.0, 2.0]")
    with pytest.raises(BadResponse):
        one_prediction(b'{"message": "no"}')


def test_no_bodies_is_an_error(url: str) -> None:
    with pytest.raises(ValueError, match="no request bodies"):
        timed_requests(url, [], 1)
