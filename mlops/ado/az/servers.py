"""Local inference servers started for emulated online endpoints, recorded per ``ado run``.

Each server is a process group (``LocalServer`` starts it in its own session); its pid,
port and what it serves are written to ``<run dir>/servers.json`` so the run can stop
every one of them by id when it ends, whatever step started it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import time
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def _file(run_dir: Path) -> Path:
    return run_dir / "servers.json"


def _read(run_dir: Path) -> dict[str, Any]:
    path = _file(run_dir)
    return json.loads(path.read_text()) if path.is_file() else {}


def record(run_dir: Path, key: str, entry: dict[str, Any]) -> None:
    data = _read(run_dir)
    data[key] = entry
    _file(run_dir).write_text(json.dumps(data, indent=2) + "\n")


def lookup(run_dir: Path, key: str) -> dict[str, Any] | None:
    entry = _read(run_dir).get(key)
    if entry is not None and not alive(int(entry["pid"])):
        return None
    return entry


def alive(pid: int) -> bool:
    try:
        os.killpg(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def stop(pid: int, timeout: float = 10.0) -> None:
    """Stop one process group we started (TERM, then KILL after ``timeout``)."""
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    end = time.monotonic() + timeout
    while time.monotonic() < end and alive(pid):
        time.sleep(0.1)
    if alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)


def forget(run_dir: Path, key: str) -> None:
    data = _read(run_dir)
    entry = data.pop(key, None)
    if entry is not None:
        stop(int(entry["pid"]))
        _file(run_dir).write_text(json.dumps(data, indent=2) + "\n")


def stop_run(run_dir: Path) -> list[str]:
    """Stop every server a run started; returns the keys stopped."""
    data = _read(run_dir)
    for key, entry in data.items():
        log.info("stopping %s (pid %s)", key, entry.get("pid"))
        stop(int(entry["pid"]))
    if data:
        _file(run_dir).write_text("{}\n")
    return list(data)
