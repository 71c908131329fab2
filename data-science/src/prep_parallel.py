"""Entry script of the per-file prep parallel job (Azure ML ``run_function`` contract).

Azure ML calls ``init()`` once per worker process, then ``run(mini_batch)`` with a list
of file paths (``mini_batch_size`` files of the ``input_data`` folder); each returned
element is one line of the ``append_row_to`` file, and one element per item means every
item succeeded (https://learn.microsoft.com/python/api/azure-ai-ml/azure.ai.ml.parallel.runfunction;
azure-ai-ml 1.x azure/ai/ml/_schema/component/parallel_task.py:ComponentParallelTaskSchema).
An error raises with the file's name, so with ``error_threshold: 0`` one bad file fails
the job and the log names it. Arguments come from ``task.program_arguments``.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from taxi_fare.memory import map_large_allocations
from taxi_fare.prep_file import prep_file
from taxi_fare.split import SplitSpec

log = logging.getLogger("prep_parallel")
_STATE: dict[str, object] = {}


def init() -> None:
    parser = argparse.ArgumentParser(description="per-file prep (parallel job)")
    parser.add_argument("--train_parts", type=Path, required=True)
    parser.add_argument("--test_parts", type=Path, required=True)
    parser.add_argument("--test_size", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=42)
    args, _ = parser.parse_known_args()  # Azure ML adds its own arguments to argv
    _STATE["args"] = args
    _STATE["spec"] = SplitSpec(args.seed, args.test_size)
    map_large_allocations()  # a file's freed columns go back to the OS (taxi_fare.memory)
    # The job's parallelism is its worker processes (max_concurrency_per_instance, set to
    # the node's cores): each parses its file on one thread, or the workers' CSV thread
    # pools would fight over the same cores.
    import pyarrow as pa

    pa.set_cpu_count(1)


def run(mini_batch: list[str]) -> list[str]:
    """One JSON line per file: its summary, or ``skipped`` for a file prep never reads."""
    args, spec = _STATE["args"], _STATE["spec"]
    rows = []
    for item in mini_batch:
        path = Path(item)
        if path.suffix.lower() != ".csv":  # prep.py reads only *.csv under a folder too
            rows.append(json.dumps({"path": str(path), "skipped": "not a .csv file"}))
            continue
        summary = prep_file(path, spec, args.train_parts, args.test_parts)
        log.info("%s: %d rows, %d train, %d test", path, summary.rows,
                 summary.train_rows, summary.test_rows)  # fmt: skip
        rows.append(summary.to_json())
    return rows
