"""Where an online request's time goes: ``python -m bench.serving_probe --workdir DIR``.

A diagnostic beside ``bench.online_bench`` (not one of ``make bench``'s ratios), run on a
bench workspace that already holds both models (``python -m bench --only online --workdir
DIR`` builds them). In the Azure ML inference server, one worker each, it serves:

- the no-op ``score.py``; a no-op importing numpy and onnxruntime; a no-op importing what
  ``score.py`` imports (``taxi_fare.serving.loading``): what the imports alone cost;
- no-ops whose ``run()`` first spends 0.3 ms, computing or asleep: what a slower ``run()``
  costs the client beyond its own time (on this project's 2-vCPU VM up to as much again);
- our ``score.py`` with the AutoML vote ensemble, and with the train2 forest;
- for each of the two models, ``score.py``'s one-row path again with a timer around each
  phase (JSON decoding, the checks, the derived features, the ONNX Runtime call), which
  the script writes to a file that the probe reads back (``phases``, medians in ms). It
  repeats ``taxi_fare.serving.online.score_body``'s compiled one-row branch step by step,
  so it must follow that branch when it changes.

Requests visit the servers in rounds (the first round is warm-up). For each server it
reports the request p50 and mean seen by the client and the p50 and mean of the server's
own timer of ``run()`` (the ``x-ms-run-fn-exec-ms`` header, azureml_inference_server_http
server/routes.py handle_score). Then the forest's price: test RMSE of the first k of its
trees (the first k trees of a seeded sklearn forest are the forest of k trees).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from bench.load import Client
from bench.online_bench import azureml_body, request_rows
from bench.servers import EntryScriptServer, noop_server
from bench.stats import percentile
from mlops.endpoints.local_server import LocalServer

ROUNDS = 6  # the first one warms up
PER_ROUND = 500
TREE_COUNTS = (200, 100, 50, 25)
_SRC = Path(__file__).resolve().parents[1] / "data-science" / "src"
IMPORTS_SCRIPTS = {
    "noop_numpy_ort": "import numpy\nimport onnxruntime\n",
    "noop_score_imports": (
        f"import sys\nsys.path.append({str(_SRC)!r})\nimport taxi_fare.serving.loading\n"
    ),
}
NOOP_TAIL = "\n\ndef init():\n    pass\n\n\ndef run(raw_data):\n    return [0.0]\n"
DELAY_SCRIPTS = {
    "noop_compute_0.3ms": (
        "import time\n\n\ndef init():\n    pass\n\n\ndef run(raw_data):\n"
        "    end = time.perf_counter() + 0.0003\n    while time.perf_counter() < end:\n"
        "        pass\n    return [0.0]\n"
    ),
    "noop_sleep_0.3ms": (
        "import time\n\n\ndef init():\n    pass\n\n\ndef run(raw_data):\n"
        "    time.sleep(0.0003)\n    return [0.0]\n"
    ),
}
PHASES = ("decode", "check", "derive", "trees")
PHASES_SCRIPT = '''"""score.py's one-row path with a timer around each phase (serving_probe)."""
import json
import os
import sys
import time
from pathlib import Path

sys.path.append({src!r})
from taxi_fare.serving.loading import load_scoring_model
from taxi_fare.serving.one_row import derived_row
from taxi_fare.serving.payload import one_row, parse_body, rows_by_column

OUT = {out!r}
MODEL = None
TIMES = {{name: [] for name in {phases!r}}}


def init():
    global MODEL
    MODEL = load_scoring_model(Path(os.environ["AZUREML_MODEL_DIR"]))
    if not MODEL.compiled_rows:
        raise RuntimeError("the phase probe needs a model on the compiled one-row path")


def run(raw_data):
    clock = time.perf_counter
    t0 = clock()
    body = parse_body(raw_data)
    t1 = clock()
    columns, rows = rows_by_column(body, 10_000)
    row = one_row(columns, rows[0], MODEL.columns)
    t2 = clock()
    x = MODEL.estimator._pick(derived_row(row))
    t3 = clock()
    prediction = MODEL.estimator.trees.predict_one(x)
    t4 = clock()
    for name, seconds in zip(TIMES, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
        TIMES[name].append(seconds * 1000.0)
    if len(TIMES["trees"]) % 100 == 0:
        with open(OUT, "w") as handle:
            json.dump(TIMES, handle)
    return [prediction]
'''


def timed(url: str, bodies: list[bytes], count: int) -> tuple[list[float], list[float]]:
    """Client seconds and the server's run() milliseconds of ``count`` requests."""
    client = Client(url)
    seconds, server_ms = [], []
    try:
        for i in range(count):
            started = time.perf_counter()
            client.post(bodies[i % len(bodies)])
            seconds.append(time.perf_counter() - started)
            timer = client.headers.get("x-ms-run-fn-exec-ms") if client.headers else None
            server_ms.append(float(timer or "nan"))
    finally:
        client.close()
    return seconds, server_ms


def summary(client: list[float], server_ms: list[float]) -> dict[str, float]:
    """Medians, and the means that the bench's throughput ratio (requests / wall) follows:
    a slow tail moves the mean, not the median."""
    return {
        "p50_ms": percentile(client, 50) * 1000.0,
        "mean_ms": sum(client) / len(client) * 1000.0,
        "run_p50_ms": percentile(server_ms, 50),
        "run_mean_ms": sum(server_ms) / len(server_ms),
    }


def tree_counts_rmse(model_dir: Path, test: Path, counts: tuple[int, ...] = TREE_COUNTS,
                     rows: int = 30_000) -> dict[int, float]:  # fmt: skip
    """Test RMSE of the forest cut to its first k trees, for each k in ``counts``."""
    import mlflow.sklearn
    import numpy as np
    import pandas as pd
    from taxi_fare.schema import FEATURES, TARGET

    pipeline = mlflow.sklearn.load_model(str(model_dir))
    table = pd.read_parquet(test / "data.parquet")
    table = table.sample(n=min(rows, len(table)), random_state=1)
    features, forest = pipeline.steps[0][1], pipeline.steps[-1][1]
    x = np.asarray(features.transform(table[list(FEATURES)]), dtype=np.float32)
    per_tree = np.stack([tree.predict(x) for tree in forest.estimators_])
    actual = table[TARGET].to_numpy()
    return {
        k: float(np.sqrt(np.mean((per_tree[:k].mean(axis=0) - actual) ** 2)))
        for k in counts
        if k <= len(forest.estimators_)
    }


def run(workdir: Path) -> dict[str, Any]:
    forest, automl, test = workdir / "model", workdir / "automl-model", workdir / "prep" / "test"
    for needed in (forest / "MLmodel", automl / "MLmodel", test / "data.parquet"):
        if not needed.is_file():
            raise SystemExit(f"error: {needed} is missing: run python -m bench --only online "
                             f"--workdir {workdir} first")  # fmt: skip
    bodies = [azureml_body(r) for r in request_rows(test, 200)]
    scripts = workdir / "probe-scripts"
    servers: dict[str, LocalServer] = {"noop": noop_server(scripts, forest)}
    for name, head in IMPORTS_SCRIPTS.items():
        path = scripts / f"{name}.py"
        path.write_text(f'"""{name}: the imports, then nothing."""\n{head}{NOOP_TAIL}')
        servers[name] = EntryScriptServer(path, forest)
    for name, text in DELAY_SCRIPTS.items():
        path = scripts / f"{name.replace('.', '_')}.py"
        path.write_text(f'"""{name}: a no-op whose run() takes 0.3 ms."""\n{text}')
        servers[name] = EntryScriptServer(path, forest)
    servers["ours_automl"] = LocalServer(automl)
    servers["ours_train2"] = LocalServer(forest)
    phase_files = {}
    for name, model in (("phases_automl", automl), ("phases_train2", forest)):
        path, out = scripts / f"{name}.py", scripts / f"{name}.json"
        out.unlink(missing_ok=True)
        path.write_text(PHASES_SCRIPT.format(src=str(_SRC), out=str(out), phases=PHASES))
        servers[name] = EntryScriptServer(path, model)
        phase_files[name] = out
    samples: dict[str, tuple[list[float], list[float]]] = {n: ([], []) for n in servers}
    with ExitStack() as stack:
        for server in servers.values():
            stack.enter_context(server)  # stopped on any exit
        for round_ in range(ROUNDS):
            for name, server in servers.items():
                client, server_ms = timed(server.score_url, bodies, PER_ROUND)
                if round_:
                    samples[name][0].extend(client)
                    samples[name][1].extend(server_ms)
    phases = {}
    for name, out in phase_files.items():
        times = json.loads(out.read_text())  # written every 100 requests: all rounds here
        phases[name] = {p: percentile(v[PER_ROUND:], 50) for p, v in times.items()}
    return {
        "servers": {name: summary(*pair) for name, pair in samples.items()},
        "phases_p50_ms": phases,
        "requests_per_server": PER_ROUND * (ROUNDS - 1),
        "forest_test_rmse_by_trees": tree_counts_rmse(forest, test),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.serving_probe",
                                     description=__doc__.splitlines()[0])  # fmt: skip
    parser.add_argument("--workdir", type=Path, required=True, help="a bench workspace")
    parser.add_argument("--output", type=Path, default=None, help="also write the JSON here")
    args = parser.parse_args(argv)
    result = run(args.workdir)
    text = json.dumps(result, indent=1)
    print(text)
    if args.output is not None:
        args.output.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
