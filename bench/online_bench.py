"""Online scoring: our score.py in the Azure ML inference server against its floor and a peer.

Two models are served: the train2 forest and the packaged AutoML vote ensemble of ``make
train`` (the default trainer), each by our ``score.py``. Every server (ours twice, the
no-op ``score.py``, ``mlflow models serve`` of the forest) runs on loopback with one
worker; the client sends single-row requests sequentially over one keep-alive connection.
The measured requests are split into rounds that visit the servers in turn, so a change in
machine load during the run falls on all of them alike rather than on whichever came last.
Ours and the no-op each run as ``REPLICAS`` processes whose requests are pooled (why:
``bench.rounds``); the peer, about 20x slower, runs once.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path

from taxi_fare.schema import FEATURES

from bench.results import BenchResult, Target, measured
from bench.rounds import pooled_rounds, replicated
from bench.servers import MlflowServer, noop_server
from bench.stats import percentile
from bench.workspace import Workspace
from mlops.endpoints.local_server import LocalServer

log = logging.getLogger(__name__)

ROUNDS = 4
REPLICAS = 3
DISTINCT_ROWS = 200
VS_NOOP = Target("ratio", ">=", 0.8)
VS_MLFLOW = Target("ratio", ">=", 3.0)
P99 = Target("ours", "<=", 15.0)


def request_rows(test_split: Path, n: int) -> list[dict[str, float]]:
    """``n`` single rows of the test split as {feature: value} in the model's column order."""
    import pandas as pd

    table = pd.read_parquet(test_split / "data.parquet", columns=list(FEATURES)).head(n)
    return [{c: float(v) for c, v in row.items()} for row in table.to_dict(orient="records")]


def azureml_body(row: dict[str, float]) -> bytes:
    """The no-code Azure ML MLflow split form that score.py accepts."""
    data = {"columns": list(row), "index": [0], "data": [list(row.values())]}
    return json.dumps({"input_data": data}).encode()


def mlflow_body(row: dict[str, float]) -> bytes:
    """MLflow scoring server's split form."""
    data = {"columns": list(row), "data": [list(row.values())]}
    return json.dumps({"dataframe_split": data}).encode()


def in_process_ms(model_dir: Path, rows: list[dict[str, float]]) -> float:
    """Median ms of the loaded model's ``predict`` on one row in this process: the model's
    own share of a request, which no server can go below."""
    import time

    import mlflow.pyfunc
    import pandas as pd

    model = mlflow.pyfunc.load_model(str(model_dir))
    frames = [pd.DataFrame([row]) for row in rows]
    seconds = []
    for frame in frames:
        started = time.perf_counter()
        model.predict(frame)
        seconds.append(time.perf_counter() - started)
    return percentile(seconds, 50) * 1000.0


def run(ws: Workspace) -> list[BenchResult]:
    model_dir = ws.model()
    automl_dir = ws.automl_model()
    _, test = ws.splits()
    rows = request_rows(test, DISTINCT_ROWS)
    predict_ms = in_process_ms(model_dir, rows[:50])
    automl_predict_ms = in_process_ms(automl_dir, rows[:50])
    split_bodies = [azureml_body(r) for r in rows]
    bodies = {"ours": split_bodies, "ours_automl": split_bodies, "noop": split_bodies,
              "mlflow": [mlflow_body(r) for r in rows]}  # fmt: skip

    def factory(kind: str, model: Path) -> Callable[[int], LocalServer]:
        def make(i: int) -> LocalServer:
            log_file = ws.logs / f"server-{kind}-{i}.log"
            if kind == "noop":
                return noop_server(ws.root / "noop", model, log_file)
            return LocalServer(model, log_file=log_file)

        return make

    servers = replicated({"ours": factory("ours", model_dir),
                          "ours_automl": factory("ours_automl", automl_dir),
                          "noop": factory("noop", model_dir)}, REPLICAS)  # fmt: skip
    servers["mlflow/0"] = MlflowServer(model_dir, ws.logs / "server-mlflow.log")
    # Each kind of REPLICAS processes gets online_requests in all; the peer, about 20x
    # slower, one process's share.
    per_process = ws.sizes.online_requests // REPLICAS
    pooled = pooled_rounds(servers, bodies.__getitem__, ROUNDS, per_process, ws.sizes.online_warmup)
    summary, spread = pooled.summary, pooled.per_process_requests_per_s
    details = {"servers": summary, "workers_per_server": 1, "rounds": ROUNDS,
               "server_processes_per_kind": REPLICAS, "mlflow_processes": 1,
               "per_process_requests_per_s": spread,
               "model_predict_one_row_p50_ms": predict_ms,
               "automl_model_predict_one_row_p50_ms": automl_predict_ms,
               "client": "sequential, one keep-alive connection, single-row JSON"}  # fmt: skip
    for name, s in summary.items():
        log.info("%s: %.0f req/s, p50 %.2f ms, p99 %.2f ms", name, s["requests_per_s"],
                 s["p50_ms"], s["p99_ms"])  # fmt: skip
    ours, noop, peer = summary["ours"], summary["noop"], summary["mlflow"]
    automl = summary["ours_automl"]
    return [
        measured("online_rps_vs_noop", "req/s", "no-op score.py in the same server",
                 ours["requests_per_s"], noop["requests_per_s"], VS_NOOP, details),
        measured("online_automl_rps_vs_noop", "req/s", "no-op score.py in the same server",
                 automl["requests_per_s"], noop["requests_per_s"], VS_NOOP,
                 {"model": "make train's AutoML vote ensemble", "servers": summary,
                  "per_process_requests_per_s": spread}),
        measured("online_rps_vs_mlflow", "req/s", "mlflow models serve, same model",
                 ours["requests_per_s"], peer["requests_per_s"], VS_MLFLOW,
                 {"mlflow_p50_ms": peer["p50_ms"], "mlflow_p99_ms": peer["p99_ms"]}),
        measured("online_p99", "ms", "p99 of the no-op score.py", ours["p99_ms"], noop["p99_ms"],
                 P99, {"ours_p50_ms": ours["p50_ms"], "noop_p50_ms": noop["p50_ms"],
                       "model_predict_one_row_p50_ms": predict_ms}),
        measured("online_automl_p99", "ms", "p99 of the no-op score.py", automl["p99_ms"],
                 noop["p99_ms"], P99, {"ours_p50_ms": automl["p50_ms"],
                                       "noop_p50_ms": noop["p50_ms"],
                                       "model_predict_one_row_p50_ms": automl_predict_ms}),
    ]  # fmt: skip
