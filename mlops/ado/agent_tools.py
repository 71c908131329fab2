"""The tools the emulated agent has on PATH: ``az`` (the emulator), ``python3``, ``terraform``.

- ``az`` runs :mod:`mlops.ado.az` with this interpreter.
- ``python3``/``python`` is this project's interpreter. ``python3 -m venv DIR`` makes a venv
  whose site-packages also see the project's installed set (a ``.pth`` line), because the
  agent here cannot download: the pipelines' own ``pip install -r requirements.lock`` then
  finds every pin already satisfied and ``pip check`` judges the same set.
- ``terraform`` is not emulated; it says so in one line and exits 2.
"""

from __future__ import annotations

import os
import shlex
import stat
import sys
import sysconfig
from pathlib import Path

from mlops.ado import zygote

_PYTHON_SHIM = '''#!{python}
"""python3 of the emulated agent (mlops ado run): the project interpreter; see agent_tools.py."""
import os, subprocess, sys
args = sys.argv[1:]
if len(args) >= 3 and args[0] == "-m" and args[1] == "venv":
    target = [a for a in args[2:] if not a.startswith("-")]
    flags = [a for a in args[2:] if a.startswith("-") and a != "--without-pip"]
    if len(target) == 1:
        # --without-pip: pip comes from the project's site-packages through the .pth line.
        done = subprocess.run([{python!r}, "-m", "venv", "--without-pip", *flags, target[0]])
        if done.returncode:
            sys.exit(done.returncode)
        probe = subprocess.run(
            [os.path.join(target[0], "bin", "python"), "-c",
             "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True, text=True, check=True,
        )
        purelib = probe.stdout.strip()
        with open(os.path.join(purelib, "zz_mlops_ado_agent.pth"), "w") as handle:
            handle.write({site!r} + "\\n")
        # The venv's `python -m mlops ...` goes to the run's pre-forked server (zygote.py).
        with open(os.path.join(purelib, "_mlops_ado_zygote_hook.py"), "w") as handle:
            handle.write({hook!r})
        with open(os.path.join(purelib, "zzz_mlops_ado_zygote.pth"), "w") as handle:
            handle.write("import _mlops_ado_zygote_hook\\n")
        sys.exit(0)
if os.environ.get({zenv!r}) and len(args) >= 2 and args[0] == "-m" and (
    args[1] == "mlops" or args[1].startswith("mlops.")
):
    os.execv({python!r}, [{python!r}, {client!r}, *args])
os.execv({python!r}, [{python!r}, *args])
'''

_AZ_SHIM = """#!/bin/sh
exec {python} {client} -m mlops.ado.az "$@"
"""

# Loaded by a .pth line at the start of every interpreter of an agent-made venv: with the
# run's server there, `python -m mlops ...` is handed to it (site.py runs .pth lines that
# begin with `import`; sys.orig_argv holds the command line by then). Otherwise, or when the
# server declines, the interpreter goes on as if this were not here.
_VENV_HOOK = """import os, sys


def _hand_over():
    args = sys.orig_argv[1:]
    if not os.environ.get({zenv!r}) or len(args) < 2 or args[0] != "-m":
        return
    if not (args[1] == "mlops" or args[1].startswith("mlops.")):
        return
    import importlib.util

    spec = importlib.util.spec_from_file_location("_mlops_ado_zygote_client", {client!r})
    client = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(client)
    code = client.hand_over(args, sys.executable, list(sys.path))
    if code is not None:
        client.finish(code)


_hand_over()
"""

_TERRAFORM_SHIM = """#!/bin/sh
echo "terraform is not emulated by mlops ado run: infrastructure pipelines only expand here" >&2
exit 2
"""


def _write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def install(bin_dir: Path) -> Path:
    """Write the agent's tools into ``bin_dir`` (put it first on PATH)."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    python = sys.executable
    site = sysconfig.get_paths()["purelib"]
    client = str(zygote.CLIENT)
    hook = _VENV_HOOK.format(zenv=zygote.ENV, client=client)
    shim = _PYTHON_SHIM.format(python=python, site=site, hook=hook, zenv=zygote.ENV, client=client)
    for name in ("python3", "python"):
        _write(bin_dir / name, shim)
    _write(bin_dir / "az", _AZ_SHIM.format(python=python, client=shlex.quote(client)))
    _write(bin_dir / "terraform", _TERRAFORM_SHIM)
    return bin_dir


def base_path(bin_dir: Path) -> str:
    return os.pathsep.join([str(bin_dir), os.environ.get("PATH", "/usr/bin:/bin")])
