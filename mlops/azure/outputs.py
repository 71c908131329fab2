"""Download outputs of an Azure ML pipeline job (its own or its steps') into one folder each."""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops.errors import MlopsError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Wanted:
    """One output to fetch: from which job, under which name, into which sub-folder."""

    folder: str
    step: str | None  # None = an output of the pipeline job itself
    output: str


def parse_wanted(outputs: Sequence[str], step_outputs: Sequence[str]) -> list[Wanted]:
    """``--output NAME`` goes to NAME/; ``--step-output STEP:NAME`` goes to STEP/."""
    wanted = [Wanted(name, None, name) for name in outputs]
    for item in step_outputs:
        step, sep, name = item.partition(":")
        if not sep or not step or not name:
            raise MlopsError(f"--step-output must look like STEP:OUTPUT, got {item!r}")
        wanted.append(Wanted(step, step, name))
    if not wanted:
        raise MlopsError("give at least one --output or --step-output to download")
    folders = [w.folder for w in wanted]
    if len(set(folders)) != len(folders):
        raise MlopsError(f"two outputs would share a folder: {sorted(folders)}")
    return wanted


def step_jobs(client: Any, parent: str) -> dict[str, str]:
    """Child job name by pipeline step (node) name.

    ``jobs.list(parent_job_name=...)`` returns the children as run-history records
    (azure-ai-ml 1.35.2 azure/ai/ml/operations/_run_operations.py:get_run_children ->
    azure/ai/ml/entities/_job/base_job.py:_BaseJob._load_from_rest), which carry the run id
    (``name``) and ``display_name`` but no separate node-name field. A child's display name
    is its node name unless the node sets ``display_name:``; our pipeline specs never do
    (tests/mlops/azure/test_step_lookup.py checks them), and two children with one display
    name are refused rather than one silently winning.
    """
    try:
        children = list(client.jobs.list(parent_job_name=parent))
    except Exception as exc:
        raise MlopsError(f"job {parent}: cannot list its steps: {exc}") from exc
    found: dict[str, str] = {}
    for child in children:
        node = str(child.display_name)
        if node in found:
            raise MlopsError(
                f"job {parent}: two steps are shown as {node!r} ({found[node]}, {child.name}); "
                "a node's display_name must stay its node name"
            )
        found[node] = str(child.name)
    return found


def download_outputs(
    client: Any,
    job_name: str,
    output_names: Sequence[str],
    dest: Path,
    expect: Sequence[str] = (),
    step_outputs: Sequence[str] = (),
) -> dict[str, Path]:
    """Fetch each output into ``dest/<folder>/`` and check the ``expect``ed files exist.

    The SDK writes a named output under ``<path>/named-outputs/<output>/``; it is
    moved up so the pipeline artifact has a flat, predictable layout. ``expect``
    entries are ``<folder>/<relative file>``. Nothing is left in ``dest`` on failure.
    """
    wanted = parse_wanted(output_names, step_outputs)
    steps = step_jobs(client, job_name) if any(w.step for w in wanted) else {}
    dest.mkdir(parents=True, exist_ok=True)
    placed: dict[str, Path] = {}
    try:
        for item in wanted:
            source_job = job_name
            if item.step is not None:
                if item.step not in steps:
                    raise MlopsError(
                        f"job {job_name} has no step {item.step!r}; steps: {sorted(steps)}"
                    )
                source_job = steps[item.step]
            placed[item.folder] = _fetch(client, source_job, item, dest)
        for relative in expect:
            if not (dest / relative).is_file():
                raise MlopsError(f"job {job_name}: expected file {relative} is missing from {dest}")
    except Exception:
        for path in placed.values():
            shutil.rmtree(path, ignore_errors=True)
        raise
    return placed


def _fetch(client: Any, job: str, item: Wanted, dest: Path) -> Path:
    target = dest / item.folder
    if target.exists():
        raise MlopsError(f"{target} already exists; download into an empty folder")
    with tempfile.TemporaryDirectory(dir=dest) as staging:
        try:
            client.jobs.download(job, download_path=staging, output_name=item.output)
        except Exception as exc:
            message = f"job {job}: could not download output {item.output!r}: {exc}"
            raise MlopsError(message) from exc
        source = Path(staging) / "named-outputs" / item.output
        if not source.is_dir():
            raise MlopsError(
                f"job {job}: output {item.output!r} is empty or missing; "
                "check the outputs: block of the pipeline YAML"
            )
        shutil.move(str(source), str(target))
    log.info("job %s: output %s -> %s", job, item.output, target)
    return target
