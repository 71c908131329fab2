"""The results file: one row per figure, machine info, and the table printed after a run.

A row compares ``ours`` with a floor or a peer measured in the same run (``ratio`` =
ours / reference) and checks one target, either on the ratio or on the absolute value.
A bench that could not run is kept as a row with ``ours`` null and the reason, so a
missing figure is visible rather than silently absent.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.stats import ratio as compute_ratio

SCHEMA_VERSION = 1
OPERATORS = ("<=", ">=")
TARGET_ON = ("ratio", "ours")
ROW_KEYS = (
    "name", "ours", "floor_or_peer", "ratio", "target", "met", "unit", "reference", "details",
)  # fmt: skip


@dataclass(frozen=True)
class Target:
    """A bound on the ratio (``on="ratio"``) or on our absolute value (``on="ours"``)."""

    on: str
    op: str
    value: float

    def __post_init__(self) -> None:
        if self.on not in TARGET_ON:
            raise ValueError(f"target 'on' must be one of {TARGET_ON}, got {self.on!r}")
        if self.op not in OPERATORS:
            raise ValueError(f"target operator must be one of {OPERATORS}, got {self.op!r}")

    def met(self, ours: float, ratio: float | None) -> bool | None:
        subject = ratio if self.on == "ratio" else ours
        if subject is None:
            return None
        return subject <= self.value if self.op == "<=" else subject >= self.value

    def text(self, unit: str) -> str:
        suffix = "x" if self.on == "ratio" else f" {unit}"
        return f"{self.op} {self.value:g}{suffix}"


@dataclass
class BenchResult:
    """One figure: our value, the floor or peer, their ratio and the target verdict."""

    name: str
    unit: str
    reference: str  # what the floor or peer is, in words
    ours: float | None = None
    floor_or_peer: float | None = None
    ratio: float | None = None
    target: dict[str, Any] | None = None
    met: bool | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def measured(
    name: str,
    unit: str,
    reference: str,
    ours: float,
    floor_or_peer: float | None,
    target: Target | None = None,
    details: dict[str, Any] | None = None,
) -> BenchResult:
    """A measured row; the ratio is ours / floor_or_peer whenever a reference exists."""
    ratio = compute_ratio(ours, floor_or_peer) if floor_or_peer is not None else None
    return BenchResult(
        name=name,
        unit=unit,
        reference=reference,
        ours=ours,
        floor_or_peer=floor_or_peer,
        ratio=ratio,
        target=None if target is None else {**asdict(target), "text": target.text(unit)},
        met=None if target is None else target.met(ours, ratio),
        details=details or {},
    )


def not_measured(name: str, unit: str, reference: str, reason: str) -> BenchResult:
    """A row for a bench that could not run: no numbers, the reason in ``details``."""
    return BenchResult(name=name, unit=unit, reference=reference, details={"not_measured": reason})


def machine_info() -> dict[str, Any]:
    """What the numbers were measured on."""
    import psutil

    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "load_average_1m_at_start": round(os.getloadavg()[0], 2),
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def document(
    results: list[BenchResult], command: str, mode: str, machine: dict[str, Any]
) -> dict[str, Any]:
    """The whole results file as plain JSON data."""
    return {
        "schema_version": SCHEMA_VERSION,
        "command": command,
        "mode": mode,
        "machine": machine,
        "results": [r.to_dict() for r in results],
    }


def check_document(doc: Any) -> list[str]:
    """Problems with a results document (empty when it is well formed)."""
    problems: list[str] = []
    if not isinstance(doc, dict):
        return ["results document is not an object"]
    for key in ("schema_version", "command", "mode", "machine", "results"):
        if key not in doc:
            problems.append(f"missing key {key!r}")
    if problems:
        return problems
    for key in ("cpu_count", "cpu_model", "ram_gb", "python", "date"):
        if key not in doc["machine"]:
            problems.append(f"machine: missing key {key!r}")
    for i, row in enumerate(doc["results"]):
        problems.extend(f"results[{i}]: {p}" for p in _check_row(row))
    return problems


def _check_row(row: Any) -> list[str]:
    if not isinstance(row, dict):
        return ["not an object"]
    missing = [k for k in ROW_KEYS if k not in row]
    if missing:
        return [f"missing key {k!r}" for k in missing]
    problems = []
    if row["ours"] is None:
        if "not_measured" not in row["details"]:
            problems.append(f"{row['name']}: no value and no not_measured reason")
        return problems
    if row["floor_or_peer"] is not None:
        expected = row["ours"] / row["floor_or_peer"]
        if row["ratio"] is None or abs(row["ratio"] - expected) > 1e-9 * max(1.0, abs(expected)):
            problems.append(f"{row['name']}: ratio {row['ratio']} is not ours / floor_or_peer")
    if row["target"] is not None:
        target = Target(row["target"]["on"], row["target"]["op"], row["target"]["value"])
        if row["met"] != target.met(row["ours"], row["ratio"]):
            problems.append(f"{row['name']}: met={row['met']} disagrees with the target")
    return problems


def write(doc: dict[str, Any], path: Path) -> None:
    """Write the document atomically: a results file is complete or absent."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(doc, indent=2) + "\n")
    tmp.replace(path)


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


def table(results: list[BenchResult]) -> str:
    """A plain-text table (also valid Markdown) of every row."""
    header = ("bench", "ours", "floor/peer", "ratio", "target", "met", "unit", "reference")
    rows = []
    for r in results:
        met = {True: "yes", False: "NO", None: "-"}[r.met]
        if r.ours is None:
            met = "not measured"
        rows.append((
            r.name, _fmt(r.ours), _fmt(r.floor_or_peer),
            "-" if r.ratio is None else f"{r.ratio:.2f}x",
            "-" if r.target is None else r.target["text"], met, r.unit, r.reference,
        ))  # fmt: skip
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=True)]
    lines = ["| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |"]
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        lines.append("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
    return "\n".join(lines)
