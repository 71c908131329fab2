"""bench.rounds: replicas named by kind, requests shared per process, pooled by kind,
every server stopped whatever happens."""

from __future__ import annotations

import json
from types import TracebackType

import pytest

from bench import rounds
from bench.load import BadResponse


class FakeServer:
    """Stands in for a LocalServer: a context manager with a score_url; records its life."""

    def __init__(self, score_url: str) -> None:
        self.score_url = score_url
        self.entered = self.exited = False

    def __enter__(self) -> FakeServer:
        self.entered = True
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.exited = True


def test_kind_of_and_replica_names_interleave_kinds() -> None:
    made = rounds.replicated({"ours": lambda i: f"ours{i}", "noop": lambda i: f"noop{i}"}, 2)
    assert list(made) == ["ours/0", "noop/0", "ours/1", "noop/1"]
    assert made["noop/1"] == "noop1"
    assert rounds.kind_of("ours_automl/2") == "ours_automl"


def test_requests_are_shared_per_process_and_pooled_by_kind(url: str) -> None:
    servers = {"a/0": FakeServer(url), "a/1": FakeServer(url), "b/0": FakeServer(url)}
    seen: list[str] = []

    def bodies(kind: str) -> list[bytes]:
        seen.append(kind)
        return [json.dumps({"x": 1.5}).encode()]

    pooled = rounds.pooled_rounds(servers, bodies, rounds=2, requests_per_process=6, warmup=1)
    assert pooled.summary["a"]["requests"] == 12  # two processes x 2 rounds x 3
    assert pooled.summary["b"]["requests"] == 6
    assert set(pooled.per_process_requests_per_s) == set(servers)
    assert all(rate > 0 for rate in pooled.per_process_requests_per_s.values())
    assert set(seen) == {"a", "b"}
    assert all(s.entered and s.exited for s in servers.values())


def test_every_server_is_stopped_when_a_request_fails(url: str) -> None:
    servers = {"a/0": FakeServer(url), "b/0": FakeServer(url)}
    good, bad = json.dumps({"x": 1.5}).encode(), json.dumps({"bad": True}).encode()
    with pytest.raises(BadResponse, match="HTTP 400"):
        rounds.pooled_rounds(servers, lambda kind: [good if kind == "a" else bad], rounds=1,
                             requests_per_process=2, warmup=0)  # fmt: skip
    assert all(s.entered and s.exited for s in servers.values())
