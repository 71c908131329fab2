from __future__ import annotations

import json

import pytest

from bench.load import BadResponse, one_prediction, timed_requests
from tests.bench.conftest import Handler


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
