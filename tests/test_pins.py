"""One pinned set: every pin in a conda spec or the model requirements equals requirements.lock."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^\s*([A-Za-z0-9_.\-\[\]]+)\s*==\s*([^\s;#]+)")


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name.split("[", maxsplit=1)[0]).lower()


def lock_pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        match = PIN.match(line)
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


def test_lock_is_fully_pinned():
    lines = [x for x in (ROOT / "requirements.lock").read_text().splitlines() if x.strip()]
    body = [x for x in lines if not x.startswith("#")]
    assert len(body) > 50
    assert all(PIN.match(x) for x in body), [x for x in body if not PIN.match(x)]


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
