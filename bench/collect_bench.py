"""Collection overhead on the online path: score.py with and without taxi_fare.collect.

Three servers at once on loopback, one worker each, the same model: ours with collection
on (``TAXI_FARE_COLLECT_DIR``, as ``mlops serve`` starts it), ours with it off, and the
no-op score.py. Single-row requests, sequential over one keep-alive connection, in rounds
that visit the servers in turn (as bench/online_bench.py). Two ratios:

- ``collect_rps_vs_noop``: collecting score.py against the no-op one, held to the serving
  bench's own target (``online_bench.VS_NOOP``): collection must not push serving below it;
- ``collect_rps_vs_off``: collecting against not collecting, the overhead itself.
"""

from __future__ import annotations

import logging
import time
from contextlib import ExitStack

from taxi_fare.schema import FEATURES

from bench.load import timed_requests
from bench.online_bench import DISTINCT_ROWS, ROUNDS, VS_NOOP, azureml_body, request_rows
from bench.results import BenchResult, Target, measured
from bench.servers import noop_server
from bench.stats import latency_summary
from bench.workspace import Workspace
from mlops.endpoints.local_server import LocalServer

log = logging.getLogger(__name__)

VS_OFF = Target("ratio", ">=", 0.95)


def sink_call_us(rows: int = 20_000) -> float:
    """Median microseconds of one collector call in process (what a request pays)."""
    import tempfile
    from pathlib import Path

    import numpy as np
    from taxi_fare.collect import ParquetCollector

    with tempfile.TemporaryDirectory() as folder:
        sink = ParquetCollector(Path(folder), FEATURES, "bench", flush_seconds=3600,
                                flush_rows=10**9)  # fmt: skip
        block = np.ones((1, len(FEATURES)))
        seconds = []
        for _ in range(rows):
            started = time.perf_counter()
            sink(block, [1.0])
            seconds.append(time.perf_counter() - started)
        started = time.perf_counter()
        sink.close()
        flush_s = time.perf_counter() - started
    log.info("flush of %d buffered rows: %.3f s", rows, flush_s)
    return float(np.median(seconds) * 1e6)


def run(ws: Workspace) -> list[BenchResult]:
    model_dir = ws.model()
    _, test = ws.splits()
    bodies = [azureml_body(r) for r in request_rows(test, DISTINCT_ROWS)]
    collected = ws.root / "collected"
    with ExitStack() as stack:
        servers = {
            "on": LocalServer(model_dir, log_file=ws.logs / "server-collect-on.log",
                              env={"TAXI_FARE_COLLECT_DIR": str(collected)}),
            "off": LocalServer(model_dir, log_file=ws.logs / "server-collect-off.log",
                               env={"TAXI_FARE_COLLECT_DIR": ""}),
            "noop": noop_server(ws.root / "noop", model_dir, ws.logs / "server-noop.log"),
        }  # fmt: skip
        for server in servers.values():
            stack.enter_context(server)
        for server in servers.values():
            timed_requests(server.score_url, bodies, ws.sizes.online_warmup)
        latencies: dict[str, list[float]] = {name: [] for name in servers}
        walls = dict.fromkeys(servers, 0.0)
        per_round = ws.sizes.online_requests // ROUNDS
        for _ in range(ROUNDS):
            for name, server in servers.items():
                seconds, wall = timed_requests(server.score_url, bodies, per_round)
                latencies[name].extend(seconds)
                walls[name] += wall
    files = sorted(collected.rglob("*.parquet"))
    summary = {name: latency_summary(latencies[name], walls[name]) for name in latencies}
    details = {"servers": summary, "workers_per_server": 1, "rounds": ROUNDS,
               "collected_files": len(files), "sink_call_us": sink_call_us(),
               "client": "sequential, one keep-alive connection, single-row JSON"}  # fmt: skip
    for name, s in summary.items():
        log.info("%s: %.0f req/s, p50 %.2f ms", name, s["requests_per_s"], s["p50_ms"])
    on, off, noop = summary["on"], summary["off"], summary["noop"]
    return [
        measured("collect_rps_vs_noop", "req/s", "no-op score.py (serving target)",
                 on["requests_per_s"], noop["requests_per_s"], VS_NOOP, details),
        measured("collect_rps_vs_off", "req/s", "score.py without collection",
                 on["requests_per_s"], off["requests_per_s"], VS_OFF,
                 {"on_p50_ms": on["p50_ms"], "off_p50_ms": off["p50_ms"]}),
    ]  # fmt: skip
