"""One pinned set: every pin in a conda spec or the model requirements equals requirements.lock,
and every requirement of the lock carries sha256 hashes (make venv uses --require-hashes); the
installer make venv bootstraps (requirements-bootstrap.txt) is hashed too and is the lock tool."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^\s*([A-Za-z0-9_.\-\[\]]+)\s*==\s*([^\s;#]+)")


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name.split("[", maxsplit=1)[0]).lower()


def lock_entries(text: str) -> list[str]:
    """One line per requirement, its ``\\``-continued ``--hash`` lines joined (uv's layout)."""
    joined = text.replace("\\\n", " ")
    return [x.strip() for x in joined.splitlines() if x.strip() and not x.lstrip().startswith("#")]


def unpinned_or_unhashed(text: str) -> list[str]:
    """Lock entries pip's --require-hashes would refuse: not ``name==version``, or no sha256."""
    return [e for e in lock_entries(text) if not PIN.match(e) or "--hash=sha256:" not in e]


def lock_pins() -> dict[str, str]:
    pins = {}
    for entry in lock_entries((ROOT / "requirements.lock").read_text()):
        match = PIN.match(entry)
        if match:
            pins[_norm(match.group(1))] = match.group(2)
    return pins


def requirement_pins(lines: list[str]) -> dict[str, str]:
    pins = {}
    for raw in lines:
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = PIN.match(line)
        assert match, f"unpinned requirement {line!r}: every requirement must be name==version"
        pins[_norm(match.group(1))] = match.group(2)
    return pins


def conda_pip_lines(path: Path) -> list[str]:
    spec = yaml.safe_load(path.read_text())
    lines: list[str] = []
    for dep in spec.get("dependencies", []):
        if isinstance(dep, dict) and "pip" in dep:
            lines.extend(dep["pip"])
    return lines


def pinned_files() -> list[Path]:
    files = sorted((ROOT / "data-science" / "environment").glob("*.yml"))
    files += sorted((ROOT / "data-science" / "src").rglob("*requirements*.txt"))
    return files


def test_lock_is_fully_pinned_and_hashed():
    text = (ROOT / "requirements.lock").read_text()
    assert len(lock_entries(text)) > 50
    assert unpinned_or_unhashed(text) == []


def test_an_unhashed_or_unpinned_entry_is_reported():
    text = (
        "# via nothing\n"
        "good==1.0 \\\n    --hash=sha256:aa \\\n    --hash=sha256:bb\n    # via x\n"
        "nohash==2.0\n"
        "loose>=3 \\\n    --hash=sha256:cc\n"
    )
    assert [e.split()[0] for e in lock_entries(text)] == ["good==1.0", "nohash==2.0", "loose>=3"]
    assert [e.split()[0] for e in unpinned_or_unhashed(text)] == ["nohash==2.0", "loose>=3"]


def test_requirements_in_agrees_with_lock():
    lock = lock_pins()
    wanted = requirement_pins((ROOT / "requirements.in").read_text().splitlines())
    assert {n: v for n, v in wanted.items() if lock.get(n) != v} == {}


@pytest.mark.parametrize("path", pinned_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_pins_match_lock(path: Path):
    lock = lock_pins()
    lines = conda_pip_lines(path) if path.suffix == ".yml" else path.read_text().splitlines()
    pins = requirement_pins(lines)
    assert pins, f"{path} declares no pinned packages"
    assert {n: v for n, v in pins.items() if lock.get(n) != v} == {}


def test_every_runtime_spec_is_covered():
    """The three places that install packages outside .venv all take part in the check."""
    names = {str(p.relative_to(ROOT)) for p in pinned_files()}
    assert {
        "data-science/environment/train-conda.yml",
        "data-science/environment/score-conda.yml",
        "data-science/src/taxi_fare/model-requirements.txt",
    } <= names


def test_mismatch_is_reported():
    lock = lock_pins()
    pins = requirement_pins(["mlflow==0.0.1"])
    assert {n: v for n, v in pins.items() if lock.get(n) != v} == {"mlflow": "0.0.1"}


def makefile_lock_tool() -> str:
    """The ``LOCK_TOOL := uv==X`` pin of the Makefile (make lock resolves with it)."""
    found = re.findall(r"^LOCK_TOOL := (\S+)$", (ROOT / "Makefile").read_text(), re.MULTILINE)
    assert len(found) == 1, f"Makefile: expected one LOCK_TOOL line, found {found}"
    return found[0]


def test_bootstrap_is_pinned_hashed_and_the_lock_tool():
    """make venv installs the lock with the uv that wrote it, and pip and uv by hash."""
    text = (ROOT / "requirements-bootstrap.txt").read_text()
    assert unpinned_or_unhashed(text) == []
    pins = requirement_pins([e.split()[0] for e in lock_entries(text)])
    assert set(pins) == {"pip", "uv"}
    name, version = makefile_lock_tool().split("==")
    assert (name, pins["uv"]) == ("uv", version)
    assert not {"pip", "uv"} & set(lock_pins())  # installers stay out of the project's set


def test_makefile_venv_installs_the_lock_with_uv_by_hash():
    recipe = (ROOT / "Makefile").read_text().split("$(STAMP): ", 1)[1].split("\n\n", 1)[0]
    assert "requirements-bootstrap.txt" in recipe.splitlines()[0]  # a new pin re-runs it
    assert "--require-hashes \\\n\t  -r requirements-bootstrap.txt" in recipe
    sync = "$(BIN)/uv pip sync --quiet --compile-bytecode --python $(BIN)/python --require-hashes"
    assert f"{sync} \\\n\t  requirements.lock\n" in recipe
    assert recipe.index("pip sync") < recipe.index("-e .") < recipe.index("pip check")


def test_makefile_lock_installs_its_uv_by_hash():
    recipe = (ROOT / "Makefile").read_text().split("\nlock:\n", 1)[1].split("\n\n", 1)[0]
    assert "--require-hashes -r requirements-bootstrap.txt" in recipe
    assert "$(LOCK_TOOL) \\" not in recipe  # never the bare pin, unchecked
    assert recipe.index("requirements-bootstrap.txt") < recipe.index("uv pip compile")
