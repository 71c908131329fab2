"""The client half of the emulated agent's pre-forked Python (server: mlops/ado/zygote.py).

Run as a script by the agent's tools (``python zygote_client.py -m mlops.ado.az ARGS``), or
called from a job venv's startup hook, it hands this process's argv, environment, working
directory, umask, ``sys.path`` and its stdin/stdout/stderr (``socket.send_fds``) to the server
of ``$MLOPS_ADO_ZYGOTE``, which forks a child that runs the command as a fresh
``python ARGS`` would. The client forwards INT/TERM/HUP/QUIT to the child's process group and
ends as the child ended: its exit code, or the same signal. Whenever the server cannot serve
(no server, not ready yet, a form of command line or an interpreter setting it does not
reproduce), the command runs the ordinary way: ``exec python ARGS``.

Only the standard library, imported lazily where possible: this runs before every command.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import struct
import sys
from typing import Any, NoReturn

ENV = "MLOPS_ADO_ZYGOTE"
HEADER = struct.Struct("!Q")
FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)


def servable(args: list[str]) -> bool:
    """``-m MODULE ...`` or ``SCRIPT.py ...`` with no interpreter option: what the server runs."""
    if len(args) >= 2 and args[0] == "-m":
        return bool(args[1]) and not args[1].startswith("-")
    return bool(args) and args[0].endswith(".py") and not args[0].startswith("-")


def request(args: list[str], python: str, path: list[str]) -> dict[str, Any]:
    mask = os.umask(0)
    os.umask(mask)
    return {
        "args": args,
        "cwd": os.getcwd(),
        "env": dict(os.environ),
        "path": path,  # without [0]: the server puts the command's (cwd or script folder)
        "executable": python,
        "prefix": sys.prefix,
        "exec_prefix": sys.exec_prefix,
        "base_prefix": sys.base_prefix,
        "base_exec_prefix": sys.base_exec_prefix,
        "umask": mask,
    }


def _read_message(conn: socket.socket, buffer: bytearray) -> dict[str, Any] | None:
    """One newline-terminated JSON reply, or None when the server closed the connection."""
    while b"\n" not in buffer:
        try:
            chunk = conn.recv(4096)
        except InterruptedError:  # pragma: no cover - PEP 475 retries recv itself
            continue
        if not chunk:
            return None
        buffer.extend(chunk)
    line, _, rest = bytes(buffer).partition(b"\n")
    buffer[:] = rest
    reply: dict[str, Any] = json.loads(line)
    return reply


def hand_over(args: list[str], python: str, path: list[str]) -> int | None:
    """Run ``args`` in a child of the server; its exit code (negative: killed by that signal),
    or None when the server is not there or declines (then run the command yourself)."""
    server = os.environ.get(ENV)
    if not server or not servable(args):
        return None
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(server)
        payload = json.dumps(request(args, python, path)).encode()
        socket.send_fds(conn, [HEADER.pack(len(payload))], [0, 1, 2])
        conn.sendall(payload)
    except OSError:
        conn.close()
        return None
    buffer = bytearray()
    first = _read_message(conn, buffer)
    if first is None or "pid" not in first:
        conn.close()
        return None  # declined ({"fallback": reason}) or the server went away before forking
    pgid = int(first["pid"])

    def forward(signum: int, _frame: object) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signum)

    for signum in FORWARDED:
        signal.signal(signum, forward)
    done = _read_message(conn, buffer)
    conn.close()
    if done is None or "status" not in done:
        print("mlops ado: the pre-forked Python went away during the command", file=sys.stderr)
        return 1
    return int(done["status"])


def finish(code: int) -> NoReturn:
    """End this process as the child ended (a signal the child died of is re-raised here)."""
    sys.stdout.flush()
    sys.stderr.flush()
    if code < 0:
        signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
        os._exit(128 - code)  # a signal whose default is not to end the process
    os._exit(code & 0xFF)


def main() -> NoReturn:
    args = sys.argv[1:]
    python = sys.executable
    code = hand_over(args, python, sys.path[1:])  # [0] is this file's folder
    if code is None:
        os.execv(python, [python, *args])
    finish(code)


if __name__ == "__main__":
    main()
