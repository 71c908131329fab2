from __future__ import annotations

import sys
from pathlib import Path

import pytest

from bench.procs import CommandFailed, Measured, fastest, run_measured

ALLOCATE = "import time; block = bytearray(300 * 2**20); time.sleep(0.3); print('done')"


def test_peak_rss_sees_a_large_allocation(tmp_path: Path) -> None:
    result = run_measured([sys.executable, "-c", ALLOCATE], log_file=tmp_path / "run.log")
    assert result.returncode == 0
    assert result.output.strip() == "done"
    assert result.peak_rss_bytes >= 300 * 2**20
    assert "done" in (tmp_path / "run.log").read_text()


def test_peak_rss_includes_child_processes() -> None:
    code = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {ALLOCATE!r}])"
    assert run_measured([sys.executable, "-c", code]).peak_rss_bytes >= 300 * 2**20


def test_failure_raises_with_the_output_tail() -> None:
    code = "import sys; print('bad input: column x'); sys.exit(3)"
    with pytest.raises(CommandFailed, match=r"exited 3:\nbad input: column x"):
        run_measured([sys.executable, "-c", code])


def test_accepted_exit_codes_are_returned() -> None:
    result = run_measured([sys.executable, "-c", "raise SystemExit(1)"], ok_codes=(0, 1))
    assert result.returncode == 1


def test_fastest_keeps_the_quickest_time_and_the_highest_memory() -> None:
    runs = [Measured(3.0, 100, "a"), Measured(2.0, 50, "b"), Measured(4.0, 300, "c")]
    best = fastest(runs)
    assert (best.seconds, best.peak_rss_bytes, best.output) == (2.0, 300, "b")
    with pytest.raises(ValueError, match="no runs"):
        fastest([])
