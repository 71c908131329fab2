"""Local twin of an Azure ML model batch deployment: ``batch_score.py`` over a folder.

Semantics follow the batch deployment spec (``mlops/azureml/deploy/batch/batch-deployment.yml``
supplies the defaults): the input folder's files, sorted, are cut into mini-batches of
``mini_batch_size`` files; ``run()`` is retried up to ``max_retries`` times when it raises;
every file of a mini-batch that still fails counts as failed; the job aborts as soon as
the failed count passes ``error_threshold`` (-1 ignores all failures). The output file
(``file,row,prediction``) is written only when the job succeeds, so an aborted job leaves
no partial output.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from mlops.errors import MlopsError
from mlops.settings import REPO_ROOT

logger = logging.getLogger(__name__)

BATCH_SCRIPT = REPO_ROOT / "data-science" / "src" / "batch_score.py"
DEPLOYMENT_SPEC = REPO_ROOT / "mlops" / "azureml" / "deploy" / "batch" / "batch-deployment.yml"
HEADER = "file,row,prediction"


@dataclass(frozen=True)
class BatchSettings:
    mini_batch_size: int = 10
    error_threshold: int = -1
    max_retries: int = 3


@dataclass
class BatchReport:
    files: int = 0
    scored_files: int = 0
    rows: int = 0
    failed: dict[str, str] = field(default_factory=dict)  # file name -> reason
    aborted: bool = False


def spec_settings(path: Path = DEPLOYMENT_SPEC) -> BatchSettings:
    """Mini-batch size, error threshold and retries as the Azure batch deployment sets them."""
    import yaml

    spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    default = BatchSettings()
    settings = spec.get("settings", spec)  # model batch deployments nest them under settings
    retry = settings.get("retry_settings") or {}
    return BatchSettings(
        mini_batch_size=int(settings.get("mini_batch_size", default.mini_batch_size)),
        error_threshold=int(settings.get("error_threshold", default.error_threshold)),
        max_retries=int(retry.get("max_retries", default.max_retries)),
    )


def threshold_exceeded(failed: int, error_threshold: int) -> bool:
    """Azure ML's rule: abort when failures pass the threshold; -1 ignores every failure."""
    return error_threshold >= 0 and failed > error_threshold


def input_files(folder: Path) -> list[Path]:
    """Every non-hidden file under ``folder``, sorted, as a uri_folder input lists them."""
    if not folder.is_dir():
        raise MlopsError(f"{folder}: input folder not found")
    files = sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )
    if not files:
        raise MlopsError(f"{folder}: input folder has no files")
    return files


def mini_batches(files: list[Path], size: int) -> Iterator[list[Path]]:
    if size < 1:
        raise MlopsError(f"mini-batch size must be at least 1, got {size}")
    for start in range(0, len(files), size):
        yield files[start : start + size]


def load_script(model_dir: Path, script: Path = BATCH_SCRIPT) -> ModuleType:
    """Import the batch entry script by path and call its ``init()`` with the model dir."""
    spec = importlib.util.spec_from_file_location("batch_score_entry", script)
    if spec is None or spec.loader is None:
        raise MlopsError(f"{script}: cannot import the batch scoring script")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    previous = os.environ.get("AZUREML_MODEL_DIR")
    os.environ["AZUREML_MODEL_DIR"] = str(model_dir)
    try:
        module.init()
    finally:
        if previous is None:
            os.environ.pop("AZUREML_MODEL_DIR", None)
        else:
            os.environ["AZUREML_MODEL_DIR"] = previous
    return module


def run_batch(
    input_dir: Path,
    output_file: Path,
    model_dir: Path,
    settings: BatchSettings,
    on_progress: Callable[[int], None] | None = None,
    script_path: Path = BATCH_SCRIPT,
) -> BatchReport:
    """Score the folder; write ``output_file`` only if the job is not aborted.

    ``script_path`` is the entry script: this checkout's by default, a deployment's pinned
    copy of its code when an emulated batch endpoint scores.
    """
    files = input_files(input_dir)
    script = load_script(model_dir, script_path)
    report = BatchReport(files=len(files))
    lines: list[str] = []
    for batch in mini_batches(files, settings.mini_batch_size):
        rows = _run_with_retries(script, batch, settings.max_retries)
        if isinstance(rows, Exception):
            reasons = getattr(rows, "reasons", {})  # batch_score.BatchFileError, per file
            for path in batch:
                report.failed[path.name] = (
                    reasons.get(path.name) or f"its mini-batch failed: {rows}"
                )
            logger.error("mini-batch of %d files failed: %s", len(batch), rows)
        else:
            lines.extend(rows)
            report.scored_files += len(batch)
            report.rows += len(rows)
        if on_progress:
            on_progress(len(batch))
        if threshold_exceeded(len(report.failed), settings.error_threshold):
            report.aborted = True
            return report
    output_file.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".predictions-", dir=output_file.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write("\n".join([HEADER, *lines]) + "\n")
    os.replace(tmp, output_file)
    return report


def _run_with_retries(
    script: ModuleType, batch: list[Path], max_retries: int
) -> list[str] | Exception:
    error: Exception | None = None
    for _ in range(max_retries + 1):
        try:
            return list(script.run([str(p) for p in batch]))
        except Exception as exc:  # the driver treats any raise from run() as a failed mini-batch
            error = exc
    assert error is not None
    return error
