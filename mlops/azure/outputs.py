"""Download named outputs of an Azure ML job into one folder per output."""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mlops.errors import MlopsError

log = logging.getLogger(__name__)


def download_outputs(
    client: Any,
    job_name: str,
    output_names: Sequence[str],
    dest: Path,
    expect: Sequence[str] = (),
) -> dict[str, Path]:
    """Fetch each named output to ``dest/<output>/`` and check the ``expect``ed files exist.

    The SDK writes a named output under ``<path>/named-outputs/<output>/``; it is
    moved up so the pipeline artifact has a flat, predictable layout. ``expect``
    entries are ``<output>/<relative file>``. Nothing is left in ``dest`` on failure.
    """
    if not output_names:
        raise MlopsError("give at least one --output to download")
    dest.mkdir(parents=True, exist_ok=True)
    placed: dict[str, Path] = {}
    try:
        for output in output_names:
            target = dest / output
            if target.exists():
                raise MlopsError(f"{target} already exists; download into an empty folder")
            with tempfile.TemporaryDirectory(dir=dest) as staging:
                try:
                    client.jobs.download(job_name, download_path=staging, output_name=output)
                except Exception as exc:
                    raise MlopsError(
                        f"job {job_name}: could not download output {output!r}: {exc}"
                    ) from exc
                source = Path(staging) / "named-outputs" / output
                if not source.is_dir():
                    raise MlopsError(
                        f"job {job_name}: output {output!r} is empty or not a pipeline output; "
                        "check the outputs: block of the pipeline YAML"
                    )
                shutil.move(str(source), str(target))
            placed[output] = target
            log.info("job %s: output %s -> %s", job_name, output, target)
        for item in expect:
            if not (dest / item).is_file():
                raise MlopsError(f"job {job_name}: expected file {item} is missing from {dest}")
    except Exception:
        for path in placed.values():
            shutil.rmtree(path, ignore_errors=True)
        raise
    return placed
