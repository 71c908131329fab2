"""Validation: ``mlops validate`` wall time over the repository against the CLI's start-up.

The floor is ``mlops --help`` (interpreter, the CLI and its command discovery), so the
ratio is how much the checks themselves add; the target is on the absolute time.
"""

from __future__ import annotations

import logging
import sys

from bench.procs import run_measured
from bench.results import BenchResult, Target, measured
from bench.workspace import REPO_ROOT, Workspace

log = logging.getLogger(__name__)

TARGET = Target("ours", "<=", 15.0)


def run(ws: Workspace) -> list[BenchResult]:
    env = ws.env()
    floor = run_measured([sys.executable, "-m", "mlops", "--help"], env=env, cwd=REPO_ROOT)
    # Exit 1 means findings were reported: the time still counts, the verdict is noted.
    ours = run_measured([sys.executable, "-m", "mlops", "validate"], env=env, cwd=REPO_ROOT,
                        log_file=ws.logs / "validate.log", ok_codes=(0, 1))  # fmt: skip
    verdict = "passed" if ours.returncode == 0 else "reported findings (exit 1)"
    log.info("validate %.1f s (%s), CLI start-up %.1f s", ours.seconds, verdict, floor.seconds)
    return [
        measured("validate_time", "s", "mlops --help (CLI start-up)", ours.seconds,
                 floor.seconds, TARGET, {"result": verdict, "repository": str(REPO_ROOT)}),
    ]  # fmt: skip
