"""The emulated agent's pre-forked Python (mlops/ado/zygote.py) behaves as a fresh interpreter.

One server for the module (it imports azure-ai-ml, MLflow, pandas, scikit-learn once). Each
command runs twice, through the server and as a fresh ``python``, and the two must agree on
stdout, stderr and exit status; ``served`` proves the first did not silently run fresh.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlops.ado import zygote
from mlops.settings import REPO_ROOT

PROBE = """\
import os, sys
print("served" if "azure.ai.ml" in sys.modules else "fresh", file=sys.stderr)
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[zygote.Zygote, Path]]:
    home = tmp_path_factory.mktemp("zhome")
    log = home / "zygote.log"
    made = zygote.ensure(home, log)
    end = time.monotonic() + 240
    while not made.socket.exists() and time.monotonic() < end:
        time.sleep(0.1)
    assert made.socket.exists(), log.read_text()
    yield made, home
    zygote.stop(home)


def _run(
    args: list[str], cwd: Path, env: dict[str, str] | None = None, through: Path | None = None,
    stdin: str = "",
) -> subprocess.CompletedProcess[str]:  # fmt: skip
    full = {**os.environ, **(env or {})}
    full.pop(zygote.ENV, None)
    argv = [sys.executable, *args]
    if through is not None:
        full[zygote.ENV] = str(through)
        argv = [sys.executable, str(zygote.CLIENT), *args]
    return subprocess.run(
        argv, cwd=cwd, env=full, input=stdin, capture_output=True, text=True, timeout=120
    )


def _both(
    server: tuple[zygote.Zygote, Path], args: list[str], cwd: Path,
    env: dict[str, str] | None = None, stdin: str = "",
) -> tuple[subprocess.CompletedProcess[str], ...]:  # fmt: skip
    forked = _run(args, cwd, env, server[0].socket, stdin)
    fresh = _run(args, cwd, env, None, stdin)
    return forked, fresh


def _script(folder: Path, name: str, body: str) -> Path:
    path = folder / name
    path.write_text(PROBE + textwrap.dedent(body))
    return path


def _same(
    forked: subprocess.CompletedProcess[str], fresh: subprocess.CompletedProcess[str]
) -> None:
    assert forked.stderr.startswith("served\n"), forked.stderr
    assert fresh.stderr.startswith("fresh\n"), fresh.stderr
    assert forked.returncode == fresh.returncode
    assert forked.stdout == fresh.stdout
    assert forked.stderr.removeprefix("served\n") == fresh.stderr.removeprefix("fresh\n")


def test_az_commands_answer_as_a_fresh_process(server, tmp_path: Path) -> None:
    env = {"MLOPS_HOME": str(tmp_path / "h")}
    for args in (["version"], ["account", "show", "--query", "id", "-o", "tsv"]):
        forked = _run(["-m", "mlops.ado.az", *args], REPO_ROOT, env, server[0].socket)
        fresh = _run(["-m", "mlops.ado.az", *args], REPO_ROOT, env)
        assert (forked.returncode, forked.stdout, forked.stderr) == (
            fresh.returncode, fresh.stdout, fresh.stderr
        ), args  # fmt: skip
        assert forked.returncode == 0
    # An unknown command or flag still exits 2 with the CLI's message.
    for args in (["ml", "job", "shoe"], ["version", "--bogus"]):
        forked = _run(["-m", "mlops.ado.az", *args], REPO_ROOT, env, server[0].socket)
        fresh = _run(["-m", "mlops.ado.az", *args], REPO_ROOT, env)
        assert forked.returncode == fresh.returncode == 2, forked.stderr
        assert forked.stderr == fresh.stderr and forked.stderr


def test_argv_env_cwd_stdin_and_fresh_project_modules(server, tmp_path: Path) -> None:
    (tmp_path / "probe_pkg").mkdir()
    (tmp_path / "probe_pkg" / "__init__.py").write_text("import os\nVALUE = os.environ['X']\n")
    script = _script(
        tmp_path, "show.py",
        """
        import probe_pkg
        from mlops import settings
        print(sys.argv, os.getcwd(), sys.path[0], probe_pkg.VALUE, settings.mlops_home())
        print(sys.stdin.read().upper(), __name__, __file__, os.umask(0o22))
        print(sys.stdout.encoding, sys.stderr.errors, sys.stdout.write_through)
        """,
    )  # fmt: skip
    sub = tmp_path / "sub"
    sub.mkdir()
    for x in ("one", "two"):  # module-level state read at import follows each command's env
        env = {"X": x, "MLOPS_HOME": str(tmp_path / x), "PYTHONUNBUFFERED": "1"}
        forked, fresh = _both(server, [str(script), "a b", "--c"], sub, env, stdin="piped in")
        _same(forked, fresh)
        assert f"'{x}'" not in forked.stdout and f" {x} " in forked.stdout
        assert "PIPED IN" in forked.stdout and str(tmp_path / x) in forked.stdout


def test_exit_codes_exceptions_and_crashes_are_the_interpreters(server, tmp_path: Path) -> None:
    cases = {
        "exit3.py": "sys.exit(3)\n",
        "exitmsg.py": "sys.exit('bad input: column fare')\n",
        "raises.py": "def f():\n    raise ValueError('no such column: fare')\nf()\n",
        "segv.py": "import signal\nos.kill(os.getpid(), signal.SIGSEGV)\n",
        "hard.py": "print('partial', flush=True)\nos._exit(9)\n",
        "atexit_.py": "import atexit\natexit.register(print, 'at exit')\nprint('body')\n",
        "thread.py": "import threading, time\n"
        "threading.Thread(target=lambda: (time.sleep(0.2), print('joined'))).start()\n",
    }
    codes = {}
    for name, body in cases.items():
        script = _script(tmp_path, name, body)
        forked, fresh = _both(server, [str(script)], tmp_path)
        _same(forked, fresh)
        codes[name] = forked.returncode
    assert codes == {
        "exit3.py": 3, "exitmsg.py": 1, "raises.py": 1, "segv.py": -signal.SIGSEGV,
        "hard.py": 9, "atexit_.py": 0, "thread.py": 0,
    }  # fmt: skip
    # The crashes did not take the server down: the next command is served.
    again = _run(
        [str(_script(tmp_path, "ok.py", "print('ok')\n"))], tmp_path, None, server[0].socket
    )
    assert (again.returncode, again.stdout, again.stderr) == (0, "ok\n", "served\n")


def test_a_signal_to_the_client_reaches_the_command(server, tmp_path: Path) -> None:
    marker = tmp_path / "started"
    script = _script(
        tmp_path, "slow.py",
        f"open({str(marker)!r}, 'w').close()\nimport time\ntime.sleep(60)\n",
    )  # fmt: skip
    env = {**os.environ, zygote.ENV: str(server[0].socket)}
    proc = subprocess.Popen(
        [sys.executable, str(zygote.CLIENT), str(script)], env=env, stderr=subprocess.PIPE
    )
    end = time.monotonic() + 60
    while not marker.exists() and time.monotonic() < end:
        time.sleep(0.05)
    assert marker.exists()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == -signal.SIGTERM
    assert proc.stderr is not None and proc.stderr.read() == b"served\n"


def test_what_it_cannot_reproduce_runs_fresh(server, tmp_path: Path) -> None:
    script = _script(tmp_path, "p.py", "print(sys.flags.optimize)\n")
    # A start-up variable the server did not start with: the interpreter itself must read it.
    declined = _run([str(script)], tmp_path, {"PYTHONOPTIMIZE": "1"}, server[0].socket)
    assert (declined.returncode, declined.stdout, declined.stderr) == (0, "1\n", "fresh\n")
    # An interpreter option (-c, -u ...) is not a form the server runs.
    flag = _run(["-c", "print('c')"], tmp_path, None, server[0].socket)
    assert (flag.returncode, flag.stdout) == (0, "c\n")
    # A missing script gets the interpreter's own message and exit 2.
    missing = _run([str(tmp_path / "nope.py")], tmp_path, None, server[0].socket)
    assert missing.returncode == 2 and "can't open file" in missing.stderr
    log = (server[1] / "zygote.log").read_text()
    assert "runs fresh: " in log and "start-up variables differ" in log


def test_no_server_means_fresh_processes(tmp_path: Path) -> None:
    script = _script(tmp_path, "p.py", "print('hi')\n")
    gone = _run([str(script)], tmp_path, None, tmp_path / "no-such.sock")
    assert (gone.returncode, gone.stdout, gone.stderr) == (0, "hi\n", "fresh\n")


def test_the_server_is_shared_per_home_and_stops(tmp_path: Path, monkeypatch) -> None:
    # A long idle time first: on a loaded machine 2 s can pass between two calls.
    monkeypatch.setenv(zygote.IDLE_ENV, "600")
    home = tmp_path / "home"
    first = zygote.ensure(home, tmp_path / "z.log")
    assert zygote.ensure(home, tmp_path / "z.log") == first  # the next run finds it
    assert zygote.stop(home) is True
    assert zygote.current(home) is None and not first.socket.exists()
    assert zygote.stop(home) is False
    # Left alone it stops itself after the idle time (here 2 s, once its imports are done).
    monkeypatch.setenv(zygote.IDLE_ENV, "2")
    second = zygote.ensure(home, tmp_path / "z.log")
    end = time.monotonic() + 240
    while zygote.current(home) is not None and time.monotonic() < end:
        time.sleep(0.2)
    assert zygote.current(home) is None, (tmp_path / "z.log").read_text()
    assert "idle for 2 s, stopping" in (tmp_path / "z.log").read_text()
    assert not second.socket.exists()
