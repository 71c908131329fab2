"""Run each step in the environment its component names, as far as this machine can.

- No environment, a curated one (``azureml://registries/azureml/...``, ``AzureML-*``), or
  an image without a conda file: the project's ``.venv``, with a warning that says so.
- A conda file whose pip dependencies are all pins from ``requirements.lock`` (the
  project's own environments): the project's ``.venv``, no rebuild.
- Any other conda file: an isolated venv under ``$MLOPS_HOME/envs/<hash>`` built from its
  pip dependencies only (cached by their content hash). Packages pinned exactly as the
  lock pins them are linked from ``.venv``; the rest come from the package index. A step
  there sees only what its environment declares, as on Azure.

What cannot be reproduced (conda-only packages, another Python version, docker images and
build contexts) is named once per run as a warning.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

from mlops import settings
from mlops.amlspec.model import EnvUse
from mlops.amlspec.references import is_curated
from mlops.errors import MlopsError

log = logging.getLogger(__name__)
_PIN = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*([^\s;#]+)\s*$")
_READY = ".ready"


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class Runtime:
    """The interpreter a step runs with, and the environment it stands for."""

    python: Path
    label: str
    isolated: bool = False

    @property
    def bin(self) -> Path:
        return self.python.parent


@dataclass(frozen=True)
class CondaSpec:
    """What a conda file asks for, split into what pip can install and what it cannot."""

    pip: tuple[str, ...]
    conda_only: tuple[str, ...]
    python: str | None


def read_conda(path: Path) -> CondaSpec:
    try:
        doc: Any = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise MlopsError(f"{path}: cannot read the conda file ({exc})") from None
    pip: list[str] = []
    conda: list[str] = []
    python = None
    for dep in (doc or {}).get("dependencies") or []:
        if isinstance(dep, dict):
            pip += [str(p) for p in dep.get("pip") or []]
        elif isinstance(dep, str):
            name = re.split(r"[=<>! ]", dep, maxsplit=1)[0]
            if name == "python":
                python = dep[len("python") :].lstrip("=").strip() or None
            elif name != "pip":
                conda.append(dep)
    return CondaSpec(tuple(pip), tuple(conda), python)


def lock_pins(lock: Path) -> dict[str, str]:
    pins: dict[str, str] = {}
    if lock.is_file():
        for line in lock.read_text().splitlines():
            match = _PIN.match(line.split("#", 1)[0].split(";", 1)[0].rstrip("\\ "))
            if match:
                pins[canonical(match.group(1))] = match.group(2)
    return pins


@dataclass
class Environments:
    """Resolves and builds step environments; warnings are given once per instance (run)."""

    home: Path = field(default_factory=lambda: settings.mlops_home() / "envs")
    lock: Path = settings.REPO_ROOT / "requirements.lock"
    warned: set[str] = field(default_factory=set)

    def warn(self, message: str) -> None:
        if message not in self.warned:
            self.warned.add(message)
            log.warning("%s", message)

    def project(self, label: str) -> Runtime:
        return Runtime(Path(sys.executable), label)

    def runtime(self, use: EnvUse | None, where: str) -> Runtime:
        if use is None:
            return self.project("the project's .venv")
        label = use.label
        if use.spec is None:
            if use.ref is not None and is_curated(use.ref):
                self.warn(
                    f"environment {label} is an Azure ML curated environment: "
                    "steps that use it run in the project's .venv locally"
                )
            else:
                self.warn(f"environment {label} is not defined here: steps run in .venv")
            return self.project(label)
        spec = use.spec
        if spec.image:
            self.warn(f"environment {label}: docker image {spec.image} is not reproduced locally")
        if spec.build is not None:
            self.warn(
                f"environment {label}: build context {spec.build} is not reproduced locally; "
                "steps run in the project's .venv"
            )
        if spec.conda_file is None:
            return self.project(label)
        conda = read_conda(spec.conda_file)
        if conda.conda_only:
            self.warn(
                f"environment {label}: conda-only packages {', '.join(conda.conda_only)} are "
                "not installed locally (pip dependencies only)"
            )
        current = f"{sys.version_info.major}.{sys.version_info.minor}"
        if conda.python and not current.startswith(conda.python.split(".*")[0]):
            self.warn(f"environment {label}: asks for Python {conda.python}, runs on {current}")
        pins = lock_pins(self.lock)
        if conda.pip and all(self._pinned_as_lock(req, pins) for req in conda.pip):
            return self.project(label)
        return self.isolated(label, conda.pip, pins, where)

    @staticmethod
    def _pinned_as_lock(requirement: str, pins: dict[str, str]) -> bool:
        match = _PIN.match(requirement)
        return bool(match) and pins.get(canonical(match.group(1))) == match.group(2)

    def isolated(
        self, label: str, requirements: tuple[str, ...], pins: dict[str, str], where: str
    ) -> Runtime:
        """The cached venv for these pip requirements, built when missing. Only plain
        requirements from the package index: options, URLs and VCS links are refused."""
        for requirement in requirements:
            text = requirement.strip()
            if text.startswith("-") or "://" in text or text.startswith(("git+", "file:")):
                raise MlopsError(
                    f"{where}: environment {label}: pip entry {text!r} is not a package "
                    "from the index; the twin installs from the package index only"
                )
        current = f"{sys.version_info.major}.{sys.version_info.minor}"
        key = hashlib.sha256(
            json.dumps({"python": current, "pip": sorted(requirements)}).encode()
        ).hexdigest()[:16]
        folder = self.home / key
        python = folder / "bin" / "python"
        if (folder / _READY).is_file() and python.exists():
            return Runtime(python, label, isolated=True)
        shutil.rmtree(folder, ignore_errors=True)  # a half-built one from an earlier crash
        folder.parent.mkdir(parents=True, exist_ok=True)
        log.info("building environment %s in %s", label, folder)
        build_log = folder.with_suffix(".log")
        try:
            subprocess.run(
                [sys.executable, "-m", "venv", "--without-pip", str(folder)],
                check=True,
                capture_output=True,
                text=True,
            )
            rest = self._link_pinned(folder, requirements, pins)
            if rest:
                with build_log.open("w") as sink:
                    done = subprocess.run(
                        [
                            sys.executable,
                            "-m",
                            "pip",
                            "--python",
                            str(python),
                            "install",
                            "--no-input",
                            "--disable-pip-version-check",
                            *rest,
                        ],
                        stdout=sink,
                        stderr=subprocess.STDOUT,
                        check=False,
                    )
                if done.returncode != 0:
                    lines = build_log.read_text(errors="replace").strip().splitlines()
                    last = next((ln for ln in reversed(lines) if "ERROR" in ln), lines[-1:] or [""])
                    raise MlopsError(
                        f"{where}: environment {label}: pip install failed: "
                        f"{str(last).strip()} (log: {build_log})"
                    )
        except (OSError, subprocess.CalledProcessError, MlopsError):
            shutil.rmtree(folder, ignore_errors=True)
            raise
        (folder / _READY).write_text(json.dumps({"label": label, "pip": list(requirements)}))
        return Runtime(python, label, isolated=True)

    def _link_pinned(
        self, folder: Path, requirements: tuple[str, ...], pins: dict[str, str]
    ) -> list[str]:
        """Link the distributions pinned exactly as ``.venv`` has them; return the rest."""
        site = Path(sysconfig.get_paths()["purelib"])
        target = folder / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}"
        target = target / "site-packages"
        installed = {
            canonical(d.metadata["Name"]): d for d in metadata.distributions(path=[str(site)])
        }
        rest: list[str] = []
        for requirement in requirements:
            match = _PIN.match(requirement)
            dist = installed.get(canonical(match.group(1))) if match else None
            if match is None or dist is None or dist.version != match.group(2):
                rest.append(requirement)
                continue
            tops = {Path(str(f)).parts[0] for f in dist.files or [] if not str(f).startswith("..")}
            for top in sorted(tops):
                _merge_link(site / top, target / top)
        return rest


def _merge_link(source: Path, link: Path) -> None:
    """Link ``source`` at ``link``; where two distributions share a folder (namespace
    packages such as ``azure``), make it a real folder holding links to both."""
    if not source.exists():
        return
    if not link.exists() and not link.is_symlink():
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(source)
        return
    if not source.is_dir() or not link.is_dir():
        return
    if link.is_symlink():
        previous = link.resolve()
        link.unlink()
        link.mkdir()
        for child in previous.iterdir():
            (link / child.name).symlink_to(child)
    for child in source.iterdir():
        _merge_link(child, link / child.name)
