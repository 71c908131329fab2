"""Interleaved request rounds over several server processes per kind, pooled by kind.

Every server runs at once on loopback; a round sends each process its share of requests
in turn, so a change in machine load falls on every kind alike. A kind (``ours``,
``noop``, ...) runs as several processes whose requests are pooled: on the 2-vCPU VM the
benches run on, one process's speed depends on where it lands (two processes of the same
no-op in one interleaved run: 1.16 and 1.42 ms a request), which one process per side
would turn into the ratio.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass

from bench.load import timed_requests
from bench.stats import latency_summary
from mlops.endpoints.local_server import LocalServer

log = logging.getLogger(__name__)


def kind_of(server_name: str) -> str:
    """``ours/2`` -> ``ours``: the kind whose requests a server process's are pooled with."""
    return server_name.partition("/")[0]


@dataclass
class Pooled:
    """Latency summary per kind (``bench.stats.latency_summary``) and req/s per process."""

    summary: dict[str, dict[str, float]]
    per_process_requests_per_s: dict[str, float]


def replicated(
    factories: Mapping[str, Callable[[int], LocalServer]], replicas: int
) -> dict[str, LocalServer]:
    """``kind/i`` -> server for i < ``replicas``, replica i of every kind before i + 1."""
    return {f"{kind}/{i}": make(i) for i in range(replicas) for kind, make in factories.items()}


def pooled_rounds(
    servers: Mapping[str, LocalServer],
    bodies: Callable[[str], list[bytes]],
    rounds: int,
    requests_per_process: int,
    warmup: int,
) -> Pooled:
    """Start every server, warm each up, run ``rounds`` rounds, stop them all (on any exit).

    ``bodies(kind)`` gives the request bodies of a kind. Each process gets
    ``requests_per_process`` measured requests (at least one a round), split evenly over
    the rounds, so a kind of three processes gets three times one process's requests.
    """
    processes = {kind_of(name) for name in servers}
    share = max(1, requests_per_process // rounds)
    latencies: dict[str, list[float]] = {kind: [] for kind in processes}
    walls = dict.fromkeys(processes, 0.0)
    sent = dict.fromkeys(servers, 0)
    spent = dict.fromkeys(servers, 0.0)
    with ExitStack() as stack:
        for name, server in servers.items():
            stack.enter_context(server)  # started now, stopped on any exit
            log.info("%s server ready on %s", name, server.score_url)
        for name, server in servers.items():
            timed_requests(server.score_url, bodies(kind_of(name)), warmup)
        for _ in range(rounds):
            for name, server in servers.items():
                kind = kind_of(name)
                seconds, wall = timed_requests(server.score_url, bodies(kind), share)
                latencies[kind].extend(seconds)
                walls[kind] += wall
                sent[name] += len(seconds)
                spent[name] += wall
    return Pooled(
        summary={kind: latency_summary(latencies[kind], walls[kind]) for kind in processes},
        per_process_requests_per_s={name: sent[name] / spent[name] for name in servers},
    )
