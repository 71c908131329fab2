"""``type: parallel`` jobs in the local twin, with Azure ML's entry-script contract.

Azure ML's parallel job (azure-ai-ml azure/ai/ml/entities/_builders/parallel.py:Parallel,
_schema/component/parallel_component.py:ParallelComponentSchema) cuts ``input_data`` into
mini-batches (a ``uri_folder`` input: ``mini_batch_size`` files each) and hands them to
``max_concurrency_per_instance`` worker processes on each of ``instance_count`` nodes.
Each worker imports ``task.entry_script``, calls ``init()`` once and ``run(mini_batch)``
per mini-batch; ``run`` returns a list (or DataFrame) with one element per item that
succeeded, and with ``append_row_to`` those elements are appended to one file
(``parallel_run_step.txt``) in that output
(https://learn.microsoft.com/python/api/azure-ai-ml/azure.ai.ml.parallel.runfunction).
``error_threshold`` counts failed items (-1: ignore all): a mini-batch whose ``run``
raises fails all its items; one that returns fewer elements than items fails the rest.

Here, one machine is one instance: ``max_concurrency_per_instance`` worker processes
(default: the number of cores). The planner turns the node into a command step that
runs this file as a driver, so reuse, logs, MLflow runs and outputs are the runner's.
The driver half (``main`` and below) uses the standard library only: it runs in the
step's environment, which need not hold ``mlops``.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import multiprocessing
import os
import shlex
import sys
import traceback
from pathlib import Path
from typing import Any

APPEND_ROW_FILE = "parallel_run_step.txt"  # Azure ML's default append_row file name
DRIVER = Path(__file__).resolve()

log = logging.getLogger(__name__)


# -- planning (runs in the mlops process) ----------------------------------------------


def _setting(component_doc: Any, node_doc: Any, key: str, default: Any = None) -> Any:
    """A job-level value overrides the component's, as in Azure ML's pipeline YAML."""
    if key in node_doc:
        return node_doc[key]
    return component_doc.get(key, default)


def plan_parallel(planner: Any, node: Any, scope: Any, where: str) -> None:
    """A ``type: parallel`` node as one step running the driver below."""
    from dataclasses import replace

    from mlops.amlspec.files import YDict, is_local, local_path
    from mlops.errors import MlopsError
    from mlops.local.pipeline import Step

    component = node.component
    if component is None or component.kind != "parallel":
        raise MlopsError(
            f"{where}: job type 'parallel' cannot run locally without a parallel component "
            "file (type: parallel) named in component:"
        )
    doc = component.doc
    task = doc.get("task")
    if not isinstance(task, YDict) or task.get("type", "run_function") != "run_function":
        raise MlopsError(f"{where}: only task.type run_function runs locally")
    entry = task.get("entry_script")
    code = task.get("code")
    if not isinstance(entry, str) or not isinstance(code, str) or not is_local(code):
        raise MlopsError(f"{where}: task needs a local code folder and an entry_script")
    code_dir = local_path(component.path.parent, code)
    if not (code_dir / entry).is_file():
        raise MlopsError(f"{where}: entry_script {entry} not found in {code_dir}")
    input_data = _setting(doc, node.doc, "input_data")
    if not isinstance(input_data, str):
        raise MlopsError(f"{where}: input_data must name an input, e.g. ${{{{inputs.data}}}}")
    resources = _setting(doc, node.doc, "resources", {}) or {}
    workers = _setting(doc, node.doc, "max_concurrency_per_instance")
    arguments = [
        "python", str(DRIVER), "--entry_script", entry, "--input_data", input_data,
        "--mini_batch_size", str(_setting(doc, node.doc, "mini_batch_size", "1")),
        "--workers", str(workers if workers is not None else os.cpu_count() or 1),
        "--error_threshold", str(_setting(doc, node.doc, "error_threshold", -1)),
        "--mini_batch_error_threshold",
        str(_setting(doc, node.doc, "mini_batch_error_threshold", -1)),
        "--instance_count", str(resources.get("instance_count", 1)),
    ]  # fmt: skip
    if isinstance(task.get("append_row_to"), str):
        arguments += ["--append_row_to", task["append_row_to"]]
    program = task.get("program_arguments") or ""
    # ${{...}} stay in the text: the runner's render_command substitutes them.
    command = (
        " ".join(a if a.startswith("${{") else shlex.quote(a) for a in arguments) + f" -- {program}"
    )
    runnable = replace(
        component,
        kind="command",
        command=command,
        code=code_dir,
        environment=planner.loader.environment(component.path, task),
    )
    step = Step(
        scope.prefix + node.name,
        runnable,
        planner.inputs_of(node, scope, where),
        node,
        kind="parallel",
        environment_variables=dict(node.environment_variables),
    )
    planner.add_step(step, scope, set(component.outputs))


def _register() -> None:
    """Planner and executor of the job type (``mlops.local.pipeline.KIND_MODULES``): the
    executor is the runner's command executor, as the planned step is a command."""
    from mlops.local.pipeline import PLANNERS
    from mlops.local.runner import EXECUTORS, _run_command

    PLANNERS["parallel"] = plan_parallel
    EXECUTORS["parallel"] = _run_command


if __name__ != "__main__":  # run by path as the driver, nothing of mlops is importable
    _register()


# -- the driver (runs in the step's environment; standard library only) ----------------

_ENTRY: Any = None


def _init_worker(code: str, entry_script: str, program_arguments: list[str]) -> None:
    """In each worker process: import the entry script, call its ``init()`` once."""
    global _ENTRY  # noqa: PLW0603 - one entry script per worker process, as in Azure ML
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    sys.path.insert(0, code)
    sys.argv = [entry_script, *program_arguments]
    spec = importlib.util.spec_from_file_location("entry_script", Path(code) / entry_script)
    assert spec is not None and spec.loader is not None
    _ENTRY = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(_ENTRY)
    if hasattr(_ENTRY, "init"):
        _ENTRY.init()


def _run_batch(batch: list[str]) -> tuple[list[str], str | None]:
    """(lines to append, error or None) of one mini-batch."""
    try:
        result = _ENTRY.run(batch)
    except Exception as exc:  # the mini-batch fails; the job decides by the thresholds
        last = traceback.extract_tb(exc.__traceback__)[-1]
        return [], f"{type(exc).__name__}: {exc} ({Path(last.filename).name}:{last.lineno})"
    if hasattr(result, "to_csv"):  # a DataFrame: one row per item
        text = result.to_csv(sep=" ", header=False, index=False)
        return text.splitlines(), None
    return [str(item) for item in (result or [])], None


def mini_batches(folder: Path, size: int) -> list[list[str]]:
    """The files under ``folder`` (hidden ones left out), ``size`` per mini-batch, by path."""
    if folder.is_file():
        files = [folder]
    else:
        files = sorted(
            p for p in folder.rglob("*")
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
        )  # fmt: skip
    names = [str(p) for p in files]
    return [names[i : i + size] for i in range(0, len(names), size)]


def drive(args: argparse.Namespace, program_arguments: list[str]) -> int:
    """Run every mini-batch on the workers; 0, or 1 once a threshold is exceeded."""
    try:
        size = int(str(args.mini_batch_size).strip())
    except ValueError:  # e.g. "10kb": Azure cuts mltable (tabular) input by size
        print(f"error: mini_batch_size {args.mini_batch_size!r}: only a number of files runs "
              "locally (a byte size is for tabular mltable input)", file=sys.stderr)  # fmt: skip
        return 1
    if size < 1:
        print(f"error: mini_batch_size {args.mini_batch_size} must be at least 1 file",
              file=sys.stderr)  # fmt: skip
        return 1
    batches = mini_batches(Path(args.input_data), size)
    if not batches:
        print(f"error: input_data {args.input_data} holds no files", file=sys.stderr)
        return 1
    workers = max(1, min(args.workers, len(batches)))
    print(f"parallel: {sum(map(len, batches))} items in {len(batches)} mini-batches of "
          f"{size}, {workers} worker processes (max_concurrency_per_instance; one instance "
          f"locally, {args.instance_count} on Azure)", flush=True)  # fmt: skip
    failed_items = failed_batches = 0
    lines: list[str] = []
    context = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
    init_args = (os.getcwd(), args.entry_script, program_arguments)
    with context.Pool(workers, initializer=_init_worker, initargs=init_args) as pool:
        for batch, (rows, error) in zip(batches, pool.imap(_run_batch, batches), strict=True):
            lost = len(batch) if error else max(0, len(batch) - len(rows))
            if lost:
                failed_items += lost
                failed_batches += 1
                reason = error or f"run() returned {len(rows)} results for {len(batch)} items"
                print(f"error: mini-batch {batch}: {reason}", file=sys.stderr, flush=True)
            lines.extend(rows)
            over_items = -1 < args.error_threshold < failed_items
            over_batches = -1 < args.mini_batch_error_threshold < failed_batches
            if over_items or over_batches:
                pool.terminate()
                what = "error_threshold" if over_items else "mini_batch_error_threshold"
                limit = args.error_threshold if over_items else args.mini_batch_error_threshold
                print(f"error: {failed_items} failed items in {failed_batches} mini-batches "
                      f"exceed {what} {limit}; first failure: {batch[0]}: {reason}",
                      file=sys.stderr, flush=True)  # fmt: skip
                return 1
    if args.append_row_to:
        target = Path(args.append_row_to)
        target.mkdir(parents=True, exist_ok=True)
        partial = target / f".{APPEND_ROW_FILE}.partial"
        partial.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
        os.replace(partial, target / APPEND_ROW_FILE)
    print(f"parallel: done, {failed_items} failed items", flush=True)
    return 0


def parse_args(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    own, _, program = (argv[: argv.index("--")], "--", argv[argv.index("--") + 1 :]) \
        if "--" in argv else (argv, "", [])  # fmt: skip
    parser = argparse.ArgumentParser(description="local twin of an Azure ML parallel job")
    parser.add_argument("--entry_script", required=True)
    parser.add_argument("--input_data", required=True)
    parser.add_argument("--mini_batch_size", default="1")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--error_threshold", type=int, default=-1)
    parser.add_argument("--mini_batch_error_threshold", type=int, default=-1)
    parser.add_argument("--instance_count", type=int, default=1)
    parser.add_argument("--append_row_to")
    return parser.parse_args(own), program


def main(argv: list[str] | None = None) -> int:
    args, program = parse_args(sys.argv[1:] if argv is None else argv)
    return drive(args, program)


if __name__ == "__main__":
    # Run by path: this folder (mlops/local) must not shadow the entry script's imports.
    sys.path[0] = os.getcwd()
    sys.exit(main())
