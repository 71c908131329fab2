"""The emulated agent's pre-forked Python: heavy libraries imported once per ``mlops ado run``.

Every ``az`` of a step is a fresh ``python -m mlops.ado.az``, every ``python -m mlops azure ...``
helper and every twin training step (prep, train, evaluate, register) a fresh interpreter,
and each one imported azure-ai-ml, MLflow, pandas or scikit-learn again: 3-13 s of CPU per
process, most of the release day's CPU. On an Azure DevOps agent those are separate
processes too; here they run on one machine, so ``mlops ado run`` starts this server once
(:func:`start`), it imports :data:`PRELOAD` and listens on a unix socket, and the agent's
tools hand commands to it (mlops/ado/zygote_client.py). For each command it forks a child
that becomes what a fresh ``python ARGS`` would be, then runs it:

- argv, environment, working directory, umask, ``sys.path`` (the client's, with ``[0]`` the
  working directory for ``-m`` or the script's folder), ``sys.executable`` and the prefixes
  are the client's; stdin, stdout and stderr are the client's own descriptors
  (``socket.send_fds``), and new ``sys.std*`` objects are made for them the way the
  interpreter makes them (``PYTHONUNBUFFERED``: write-through; stderr line-buffered,
  ``backslashreplace``);
- every module that is not the standard library's or site-packages' (this project's
  ``mlops``, ``taxi_fare``, anything from the working tree) is dropped, so the command
  imports them fresh from its own path and module-level state read at import time
  (``MLOPS_HOME`` and the like) comes from the command's environment;
- OpenBLAS gets the thread count a fresh process would take from the command's environment
  (the server imports with one thread so that it stays single-threaded: fork happens only
  when ``/proc/self/task`` holds one thread), numpy's global random state is reseeded from
  the OS (``random`` reseeds itself at fork);
- the child's exit is the interpreter's: ``SystemExit`` codes and messages, a traceback and 1
  for an uncaught exception, non-daemon threads joined, ``atexit`` run, stdio flushed; a
  ``KeyboardInterrupt`` ends it by SIGINT. The server reports the child's wait status to the
  client, which exits with it (or dies of the same signal).

The server declines (the client then runs the command the ordinary way) when it cannot
promise that: an interpreter option other than ``-m``/a script, a start-up variable
(``PYTHON*`` but ``PYTHONPATH``/``PYTHONUNBUFFERED``, locale, MLflow's logging switches) that
differs from its own, a module it would not find by the path finder, a preloaded library
shadowed on the command's path, or a thread other than its own. Differences that remain and
do not change what a command computes: all children share one hash seed, pyarrow's jemalloc
runs without its background purge thread, and a library's import-time warnings filters and
loggers exist even when the command would not have imported it. A child whose client goes
away (the step was killed) gets SIGTERM on its process group; the server is stopped, with
any child left, when the run ends (:meth:`Zygote.stop`).
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import hashlib
import importlib
import importlib.machinery
import io
import json
import os
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from mlops.ado import zygote_client

ENV = zygote_client.ENV
CLIENT_ENV = "MLOPS_ADO_ZYGOTE_CLIENT"
CLIENT = Path(zygote_client.__file__).resolve()
DISABLE_ENV = "MLOPS_ADO_PREFORK"  # 0/off: every command is a fresh process
IDLE_ENV = "MLOPS_ADO_PREFORK_IDLE"  # seconds the server waits for the next command
DEFAULT_IDLE = 120.0

#: What the step processes of this repository's pipelines import that costs the CPU.
PRELOAD = (
    "numpy",
    "scipy.linalg",
    "pandas",
    "pyarrow",
    "pyarrow.csv",
    "pyarrow.parquet",
    "sklearn.ensemble",
    "sklearn.metrics",
    "sklearn.model_selection",
    "threadpoolctl",
    "mlflow",
    "mlflow.tracking",
    "mlflow.sklearn",
    "mlflow.pyfunc",
    # The twin's stores are sqlite (mlops/settings.py tracking_uri): MLflow imports its
    # SQLAlchemy stores (SQLAlchemy, alembic) on the first client, 1.4 s of CPU a step.
    "mlflow.store.tracking.sqlalchemy_store",
    "mlflow.store.model_registry.sqlalchemy_store",
    "azure.ai.ml",
    "azure.ai.ml.entities",
    "typer",
    "rich",
    "yaml",
    # The scoring code's compiled trees build an ONNX graph: ml_dtypes' import alone is 1.1 s
    # of CPU in every inference server and batch scorer. onnxruntime is not here: its import
    # starts a thread, and the server forks only while it has one.
    "onnx",
    # The inference server's Flask app. Not azureml_inference_server_http (its settings are
    # read from the environment at import) nor gunicorn (its config reads PORT and
    # WEB_CONCURRENCY at import).
    "flask",
    "flask_cors",
)
#: Set in the server only, before the imports, so no library starts a native thread there.
QUIET = {"OPENBLAS_NUM_THREADS": "1", "JE_ARROW_MALLOC_CONF": "background_thread:false"}
_STARTUP_EXEMPT = {"PYTHONPATH", "PYTHONUNBUFFERED"}  # reproduced per command
_STARTUP_NAMES = {"LANG", "LC_ALL", "LC_CTYPE", "MLFLOW_LOGGING_LEVEL", "MLFLOW_CONFIGURE_LOGGING"}
_BLAS_ENV = ("OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS", "OMP_NUM_THREADS")


def startup_env(env: dict[str, str]) -> dict[str, str]:
    """The variables an interpreter and the preloaded libraries read when they start."""
    return {
        k: v
        for k, v in env.items()
        if (k.startswith("PYTHON") and k not in _STARTUP_EXEMPT) or k in _STARTUP_NAMES
    }


def _library_roots() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    return tuple(
        os.path.join(os.path.realpath(paths[k]), "")
        for k in ("stdlib", "platstdlib", "purelib", "platlib")
    )


def _library_module(module: object, roots: tuple[str, ...]) -> bool:
    file = getattr(module, "__file__", None)
    if file:
        return os.path.realpath(file).startswith(roots)
    locations = list(getattr(module, "__path__", None) or [])
    return all(os.path.join(os.path.realpath(p), "").startswith(roots) for p in locations)


def _threads() -> int:
    return len(os.listdir("/proc/self/task"))


def _decline(request: dict[str, Any], startup: dict[str, str]) -> str | None:
    """Why this command cannot run in a child here, or None."""
    args = request["args"]
    if not zygote_client.servable(args):
        return "not a -m MODULE or SCRIPT.py command line"
    if startup_env(request["env"]) != startup:
        return "start-up variables differ from the server's"
    for name, value in QUIET.items():
        if name in request["env"] and name not in _BLAS_ENV and request["env"][name] != value:
            return f"{name} differs from the server's"
    if _threads() != 1:
        return f"the server holds {_threads()} threads"
    cwd = request["cwd"]
    if args[0] == "-m":
        path0 = cwd
        top = args[1].split(".")[0]
        if importlib.machinery.PathFinder.find_spec(top, [path0, *request["path"]]) is None:
            return f"module {top} is not on the command's path"
    else:
        script = os.path.join(cwd, args[0])
        if not os.path.isfile(script):
            return f"no script {script}"
        path0 = os.path.dirname(os.path.realpath(script))
    search = [path0, *request["path"]]
    for top in sorted({m.split(".")[0] for m in PRELOAD}):
        loaded = sys.modules.get(top)
        spec = importlib.machinery.PathFinder.find_spec(top, search)
        if loaded is None or spec is None:
            return f"preloaded {top} is not found on the command's path"
        want = _where(getattr(loaded, "__file__", None), getattr(loaded, "__path__", None))
        origin = spec.origin if spec.origin not in (None, "namespace") else None
        if want != _where(origin, spec.submodule_search_locations):
            return f"preloaded {top} is another copy on the command's path"
    return None


def _where(file: str | None, locations: Any) -> list[str]:
    if file:
        return [os.path.realpath(file)]
    return [os.path.realpath(p) for p in locations or []]


def _blas_threads(env: dict[str, str]) -> int:
    """OpenBLAS's own choice at load (driver/others/init.c blas_get_cpu_number): the first
    positive of OPENBLAS_NUM_THREADS, GOTO_NUM_THREADS, OMP_NUM_THREADS, else the CPUs."""
    for name in _BLAS_ENV:
        with contextlib.suppress(KeyError, ValueError):
            if int(env[name]) > 0:
                return int(env[name])
    return len(os.sched_getaffinity(0))


def _stdio(env: dict[str, str], old: tuple[Any, Any, Any]) -> None:
    """New sys.stdin/stdout/stderr on fds 0-2 as Python's create_stdio makes them."""
    buffered = not env.get("PYTHONUNBUFFERED")
    streams = []
    for fd, stream in enumerate(old):
        encoding, errors = stream.encoding, stream.errors
        if fd == 0:
            raw: Any = io.FileIO(0, "r", closefd=False)
            made = io.TextIOWrapper(io.BufferedReader(raw), encoding=encoding, errors=errors)
        else:
            raw = io.FileIO(fd, "w", closefd=False)
            tty = os.isatty(fd)
            made = io.TextIOWrapper(
                io.BufferedWriter(raw) if buffered else raw,
                encoding=encoding,
                errors="backslashreplace" if fd == 2 else errors,
                line_buffering=buffered and (tty or fd == 2),
                write_through=not buffered,
            )
        streams.append(made)
    sys.stdin, sys.stdout, sys.stderr = streams
    sys.__stdin__, sys.__stdout__, sys.__stderr__ = streams


def _exit_code(error: SystemExit) -> int:
    """pythonrun.c _Py_HandleSystemExit: None is 0, an int is itself, else printed and 1."""
    code = error.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code if -(2**31) <= code < 2**31 else -1
    with contextlib.suppress(Exception):
        print(code, file=sys.stderr)
    return 1


def _run(args: list[str]) -> int:
    """Run the command as the interpreter would, and return its exit code."""
    import builtins
    import runpy
    import threading
    import types

    try:
        try:
            # The interpreter's __main__ before it runs anything (pylifecycle.c add_main_module).
            main = types.ModuleType("__main__")
            main.__dict__.update(__builtins__=builtins, __annotations__={})
            sys.modules["__main__"] = main
            if args[0] == "-m":
                sys.argv = ["-m", *args[2:]]
                runpy._run_module_as_main(args[1])  # type: ignore[attr-defined]  # what -m runs
            else:
                script = args[0]
                sys.argv = list(args)
                main.__dict__.update(
                    __file__=script,
                    __cached__=None,
                    __loader__=importlib.machinery.SourceFileLoader("__main__", script),
                )
                with open(script, "rb") as handle:
                    source = handle.read()
                exec(compile(source, script, "exec"), main.__dict__)  # python SCRIPT
            code = 0
        except SystemExit as error:
            code = _exit_code(error)
        except KeyboardInterrupt:
            import traceback

            traceback.print_exc()
            _flush()
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGINT)
            code = 130
        except BaseException as error:
            tb = error.__traceback__
            while tb is not None and tb.tb_frame.f_code.co_filename == _HERE:
                tb = tb.tb_next  # the traceback a fresh interpreter prints starts below here
            sys.excepthook(type(error), error.with_traceback(tb), tb)
            code = 1
        threading._shutdown()  # type: ignore[attr-defined]  # Py_FinalizeEx waits for threads
        import atexit

        atexit._run_exitfuncs()
    except SystemExit as error:  # sys.exit in an atexit function or a thread join
        code = _exit_code(error)
    if not _flush() and code == 0:
        code = 120  # what the interpreter exits with when flushing stdout fails
    return code


_HERE = _run.__code__.co_filename


def _flush() -> bool:
    ok = True
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            ok = False
    return ok


def _child(request: dict[str, Any], fds: list[int], library: frozenset[str], blas: Any) -> NoReturn:
    """In the fork: become the command's fresh interpreter, run it, exit with its code."""
    code = 70
    try:
        for signum in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
            signal.signal(signum, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        with contextlib.suppress(OSError):
            os.setpgid(0, 0)
        old = (sys.stdin, sys.stdout, sys.stderr)
        _flush()
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            if fd > 2:
                os.close(fd)
        env = request["env"]
        os.umask(int(request["umask"]))
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(env)
        args = request["args"]
        script_dir = os.path.dirname(os.path.realpath(args[0]))
        path0 = os.getcwd() if args[0] == "-m" else script_dir
        sys.path[:] = [path0, *request["path"]]
        sys.executable = request["executable"]
        sys.orig_argv = [request["executable"], *args]
        for name in ("prefix", "exec_prefix", "base_prefix", "base_exec_prefix"):
            setattr(sys, name, request[name])
        for name in sys.modules.keys() - library:  # this module, what the server imported since
            del sys.modules[name]
        sys.path_importer_cache.clear()
        importlib.invalidate_caches()
        _stdio(env, old)
        blas.limit(limits=_blas_threads(env), user_api="blas")
        gc.enable()
        import numpy

        numpy.random.seed()
        code = _run(args)
    finally:
        os._exit(code)


def _read_exact(conn: socket.socket, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            raise ConnectionError("the client closed the connection mid-request")
        data.extend(chunk)
    return bytes(data)


def _send(conn: socket.socket, message: dict[str, Any]) -> None:
    with contextlib.suppress(OSError):
        conn.sendall(json.dumps(message).encode() + b"\n")


class _Stop(Exception):
    pass


def serve(path: str, idle: float) -> None:
    """Import :data:`PRELOAD`, listen on ``path``, fork a child per command until SIGTERM or
    ``idle`` seconds without a command running."""
    startup = startup_env(dict(os.environ))
    os.environ.update(QUIET)
    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except ImportError as error:  # not installed here: that command pays its import
            print(f"zygote: {name} not preloaded: {error}", file=sys.stderr, flush=True)
    roots = _library_roots()
    for name, module in list(sys.modules.items()):  # the server's own project modules
        if not _library_module(module, roots) and name != __name__:
            del sys.modules[name]
    library = frozenset(sys.modules) - {__name__}
    from threadpoolctl import ThreadpoolController

    blas = ThreadpoolController()  # found once: the search stats every loaded library (0.14 s)
    # Objects made so far are never collected: a child's collections then do not touch (and
    # copy) the server's pages (https://docs.python.org/3/library/gc.html#gc.freeze).
    gc.disable()
    gc.freeze()

    def stop(_signum: int, _frame: object) -> None:
        raise _Stop

    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda _s, _f: None)
    signal.signal(signal.SIGTERM, stop)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path + ".tmp")
    listener.listen(64)
    os.rename(path + ".tmp", path)  # clients see the socket only once it accepts
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ, "listen")
    selector.register(wake_r, selectors.EVENT_READ, "wake")
    children: dict[int, tuple[socket.socket, str, float]] = {}
    print(f"zygote: ready, {len(sys.modules)} modules, pid {os.getpid()}", flush=True)
    try:
        while True:
            events = selector.select(timeout=idle)
            if not events and not children:
                print(f"zygote: idle for {idle:g} s, stopping", flush=True)
                break
            for key, _ in events:
                if key.data == "listen":
                    _accept(listener, selector, children, startup, library, blas)
                elif key.data == "wake":
                    with contextlib.suppress(BlockingIOError):
                        os.read(wake_r, 512)
                    _reap(selector, children)
                else:  # a client connection readable: it went away (EOF) before its child
                    conn = key.fileobj
                    assert isinstance(conn, socket.socket)
                    with contextlib.suppress(OSError):
                        if conn.recv(1):
                            continue
                    selector.unregister(conn)
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.killpg(key.data, signal.SIGTERM)
    except _Stop:
        pass
    finally:
        for pid in children:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            os.unlink(path)
        with contextlib.suppress(OSError):
            os.rmdir(os.path.dirname(path))


def _accept(
    listener: socket.socket,
    selector: selectors.BaseSelector,
    children: dict[int, tuple[socket.socket, str, float]],
    startup: dict[str, str],
    library: frozenset[str],
    blas: Any,
) -> None:
    conn, _ = listener.accept()
    fds: list[int] = []
    try:
        conn.settimeout(10)
        head, fds, _flags, _addr = socket.recv_fds(conn, zygote_client.HEADER.size, 3)
        if len(head) < zygote_client.HEADER.size:
            head += _read_exact(conn, zygote_client.HEADER.size - len(head))
        (size,) = zygote_client.HEADER.unpack(head)
        request = json.loads(_read_exact(conn, size))
        reason = _decline(request, startup) if len(fds) == 3 else "stdin/stdout/stderr missing"
    except (OSError, ValueError, ConnectionError) as error:
        request, reason = {}, f"bad request: {error}"
    if reason is not None:
        print(
            f"zygote: runs fresh: {' '.join(request.get('args', []))[:200]}: {reason}", flush=True
        )
        _send(conn, {"fallback": reason})
        conn.close()
        for fd in fds:
            os.close(fd)
        return
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        signal.set_wakeup_fd(-1)
        selector.close()
        listener.close()
        for other, _shown, _started in children.values():
            other.close()
        conn.close()
        _child(request, fds, library, blas)
    for fd in fds:
        os.close(fd)
    with contextlib.suppress(OSError):
        os.setpgid(pid, pid)  # as the child does: the client may signal the group at once
    conn.settimeout(None)
    _send(conn, {"pid": pid})
    children[pid] = (conn, " ".join(request["args"])[:160], time.monotonic())
    selector.register(conn, selectors.EVENT_READ, pid)


def _reap(
    selector: selectors.BaseSelector, children: dict[int, tuple[socket.socket, str, float]]
) -> None:
    while True:
        try:
            pid, status, usage = os.wait4(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        entry = children.pop(pid, None)
        if entry is None:
            continue
        conn, shown, started = entry
        code = os.waitstatus_to_exitcode(status)
        cpu = usage.ru_utime + usage.ru_stime
        wall = time.monotonic() - started
        print(f"zygote: {shown}: exit {code}, {wall:.1f} s wall, {cpu:.2f} s CPU", flush=True)
        with contextlib.suppress(KeyError, ValueError):
            selector.unregister(conn)
        _send(conn, {"status": code})
        conn.close()


def enabled() -> bool:
    return os.environ.get(DISABLE_ENV, "1").strip().lower() not in ("0", "off", "false", "no")


def idle_seconds() -> float:
    return float(os.environ.get(IDLE_ENV, "") or DEFAULT_IDLE)


def key() -> str:
    """What the server's imports depend on: interpreter, installed set, this code, PRELOAD."""
    digest = hashlib.sha256()
    purelib = sysconfig.get_paths()["purelib"]
    for part in (sys.executable, sys.version, purelib, str(os.stat(purelib).st_mtime_ns)):
        digest.update(part.encode() + b"\0")
    for name in PRELOAD:
        digest.update(name.encode() + b"\0")
    for source in (Path(__file__), CLIENT):
        digest.update(source.read_bytes())
    return digest.hexdigest()


@dataclass(frozen=True)
class Zygote:
    """The server of one ``$MLOPS_HOME`` and :func:`key`: the runs of a rehearsal share it."""

    pid: int
    socket: Path
    key: str

    def env(self) -> dict[str, str]:
        return {ENV: str(self.socket), CLIENT_ENV: str(CLIENT)}


def _state(home: Path) -> Path:
    return home / "ado" / "zygote.json"


def _alive(pid: int) -> bool:
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)  # our own child: reap it if it ended
        if done:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError):  # a zombie left for another parent counts as gone
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    return True


def current(home: Path) -> Zygote | None:
    """The running server of ``home``, if any."""
    try:
        data = json.loads(_state(home).read_text())
        found = Zygote(int(data["pid"]), Path(data["socket"]), str(data["key"]))
    except (OSError, ValueError, KeyError):
        return None
    if not _alive(found.pid):
        return None
    try:  # the server itself, not a process that got its pid since (it may still be importing)
        cmdline = Path(f"/proc/{found.pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return None
    return found if str(found.socket).encode() in cmdline else None


def ensure(home: Path, log: Path) -> Zygote:
    """The server of ``home`` for this :func:`key`: the running one, else a new one (an old
    key's is stopped). It starts in the background; commands run fresh until it listens."""
    want = key()
    (home / "ado").mkdir(parents=True, exist_ok=True)
    with open(home / "ado" / "zygote.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        found = current(home)
        if found is not None and found.key == want:
            return found
        stop(home)
        # A short folder: a unix socket path holds at most 107 bytes (sys/un.h sun_path).
        folder = Path(tempfile.mkdtemp(prefix="mlops-ado-"))
        sock = folder / "zygote.sock"
        with open(log, "ab") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "mlops.ado.zygote", str(sock), str(idle_seconds())],
                cwd=Path(__file__).resolve().parents[2],  # this code, whatever the run's tree
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        made = Zygote(proc.pid, sock, want)
        _state(home).write_text(
            json.dumps({"pid": made.pid, "socket": str(sock), "key": want, "log": str(log)}) + "\n"
        )
        return made


def stop(home: Path, timeout: float = 10.0) -> bool:
    """Stop the server of ``home`` (and any command child left); True if one was running."""
    path = _state(home)
    try:
        data = json.loads(path.read_text())
        pid, sock = int(data["pid"]), Path(data["socket"])
    except (OSError, ValueError, KeyError):
        return False
    running = _alive(pid)
    if running:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        end = time.monotonic() + timeout
        while _alive(pid) and time.monotonic() < end:
            time.sleep(0.05)
        if _alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(OSError):
        path.unlink()
    if sock.parent.name.startswith("mlops-ado-"):
        shutil.rmtree(sock.parent, ignore_errors=True)
    return running


def main() -> None:
    if len(sys.argv) != 3:
        print("usage: python -m mlops.ado.zygote SOCKET IDLE_SECONDS", file=sys.stderr)
        sys.exit(2)
    serve(sys.argv[1], float(sys.argv[2]))


if __name__ == "__main__":
    main()
