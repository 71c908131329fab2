"""CPU and wall of a command with everything it started, orphans included.

``python tests/mlops/ado/cpu_of.py CMD...`` runs CMD as a child subreaper (Linux
``prctl(PR_SET_CHILD_SUBREAPER)``), so processes that outlive their parent (the pre-forked
Python of ``mlops ado run``, inference servers started in a step) are reparented here and
reaped, and their user+sys time lands in ``RUSAGE_CHILDREN``: ``/usr/bin/time`` misses them.
Prints one JSON line: exit code, wall seconds, user and sys seconds, and the pids of any
process still running 300 s after CMD ended (a leak).
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import subprocess
import sys
import time

PR_SET_CHILD_SUBREAPER = 36  # linux/prctl.h


def main() -> int:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER) failed")
    start = time.monotonic()
    main_pid = subprocess.Popen(sys.argv[1:]).pid
    while True:  # reap orphans as they end, as init would: a zombie still counts as alive
        pid, status = os.waitpid(-1, 0)
        if pid == main_pid:
            code = os.waitstatus_to_exitcode(status)
            break
    wall = time.monotonic() - start
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            time.sleep(0.2)
    left = [int(p) for p in os.listdir("/proc") if p.isdigit() and _parent(int(p)) == os.getpid()]
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = usage.ru_utime + usage.ru_stime
    figures = {
        "returncode": code,
        "wall_s": round(wall, 1),
        "user_s": round(usage.ru_utime, 1),
        "sys_s": round(usage.ru_stime, 1),
        "cpu_s": round(cpu, 1),
        "still_running": left,
    }
    print(json.dumps(figures))
    return code


def _parent(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return int(handle.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return -1


if __name__ == "__main__":
    sys.exit(main())
