"""Collection overhead on the online path: score.py with and without taxi_fare.collect.

Servers at once on loopback, one worker each, the same model: ours with collection on
(``TAXI_FARE_COLLECT_DIR``, as ``mlops serve`` starts it), ours with it off, and the no-op
score.py, each as ``online_bench.REPLICAS`` processes pooled by kind (``bench.rounds``).
Single-row requests, sequential over one keep-alive connection, in rounds that visit the
servers in turn (as bench/online_bench.py). Two ratios:

- ``collect_rps_vs_noop``: collecting score.py against the no-op one, held to the serving
  bench's own target (``online_bench.VS_NOOP``): collection must not push serving below it;
- ``collect_rps_vs_off``: collecting against not collecting, the overhead itself.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from taxi_fare.schema import FEATURES

from bench.online_bench import (
    DISTINCT_ROWS,
    REPLICAS,
    ROUNDS,
    VS_NOOP,
    azureml_body,
    request_rows,
)
from bench.results import BenchResult, Target, measured
from bench.rounds import pooled_rounds, replicated
from bench.servers import noop_server
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

    def factory(kind: str) -> Callable[[int], LocalServer]:
        env = {"on": {"TAXI_FARE_COLLECT_DIR": str(collected)},
               "off": {"TAXI_FARE_COLLECT_DIR": ""}}  # fmt: skip

        def make(i: int) -> LocalServer:
            log_file = ws.logs / f"server-collect-{kind}-{i}.log"
            if kind == "noop":
                return noop_server(ws.root / "noop", model_dir, log_file)
            return LocalServer(model_dir, log_file=log_file, env=env[kind])

        return make

    servers = replicated({kind: factory(kind) for kind in ("on", "off", "noop")}, REPLICAS)
    per_process = ws.sizes.online_requests // REPLICAS
    warmup = ws.sizes.online_warmup
    pooled = pooled_rounds(servers, lambda _kind: bodies, ROUNDS, per_process, warmup)
    files = sorted(collected.rglob("*.parquet"))
    summary = pooled.summary
    details = {"servers": summary, "workers_per_server": 1, "rounds": ROUNDS,
               "server_processes_per_kind": REPLICAS,
               "per_process_requests_per_s": pooled.per_process_requests_per_s,
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
