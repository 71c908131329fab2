"""The JSON files steps hand on: one name, one dataclass, one reader and one writer each.

``decision.json`` (evaluate; read by register, the local runner's summary and
``mlops azure gate-decision``), ``model_info.json`` (register; read by the summary and
the Azure helpers), ``quality.json`` (prep and prep_combine; read by register, the
summary and the benchmarks) and ``stage_report.json`` (stageprep and ``mlops promote``).
The JSON is what the steps have always written, key for key, so Azure pipelines and
runs already on disk read as before. A reader takes a step's output folder or the file
itself and refuses a missing file, bad JSON or a wrong field with one line naming the
file and the key (``StepFileError``); platform code reads through these, never by hand.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, NoReturn

from taxi_fare.errors import TaxiFareError
from taxi_fare.gate import MODES, Decision
from taxi_fare.metrics import METRIC_NAMES

DECISION_FILE = "decision.json"
MODEL_INFO_FILE = "model_info.json"
QUALITY_FILE = "quality.json"
STAGE_REPORT_FILE = "stage_report.json"

#: What each file is called in messages ("decision file not found").
_WHAT = {
    DECISION_FILE: "decision file",
    MODEL_INFO_FILE: "model info file",
    QUALITY_FILE: "quality report",
    STAGE_REPORT_FILE: "stage report",
}


class StepFileError(TaxiFareError):
    """A step output file is missing, is not a JSON object, or holds a wrong field."""


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


class _Fields:
    """Typed access to the keys of one JSON object; every refusal names the file and key."""

    def __init__(self, data: Mapping[str, Any], path: Path, prefix: str = "") -> None:
        self.data, self.path, self.prefix = data, path, prefix

    def fail(self, key: str, expected: str) -> NoReturn:
        where = f"{self.prefix}{key}"
        if key not in self.data:
            raise StepFileError(f"{self.path}: key {where!r} is missing ({expected} expected)")
        got = _short(self.data[key])
        raise StepFileError(f"{self.path}: key {where!r} must be {expected}, got {got}")

    def boolean(self, key: str) -> bool:
        value = self.data.get(key)
        if not isinstance(value, bool):
            self.fail(key, "true or false")
        return value

    def text(self, key: str, empty: bool = True) -> str:
        value = self.data.get(key)
        if not isinstance(value, str) or (not empty and not value.strip()):
            self.fail(key, "a string" if empty else "a non-empty string")
        return value

    def optional_text(self, key: str) -> str | None:
        value = self.data.get(key)
        if value is not None and not isinstance(value, str):
            self.fail(key, "a string or null")
        return value

    def count(self, key: str) -> int:
        value = self.data.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            self.fail(key, "an integer >= 0")
        return value

    def optional_int(self, key: str, minimum: int | None = None) -> int | None:
        value = self.data.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(key, "an integer or null")
        if minimum is not None and value < minimum:
            self.fail(key, f"an integer >= {minimum} or null")
        return value

    def mapping(self, key: str) -> dict[str, Any]:
        value = self.data.get(key)
        if not isinstance(value, dict):
            self.fail(key, "a JSON object")
        return value

    def optional_mapping(self, key: str) -> dict[str, Any] | None:
        return None if self.data.get(key) is None else self.mapping(key)

    def listing(self, key: str) -> list[Any]:
        value = self.data.get(key)
        if not isinstance(value, list):
            self.fail(key, "a JSON list")
        return value

    def metrics(self, key: str) -> dict[str, float]:
        """The four metrics, each a finite number (no NaN: the gate never writes one)."""
        found = self.mapping(key)
        inner = _Fields(found, self.path, f"{self.prefix}{key}.")
        for name in METRIC_NAMES:
            value = found.get(name)
            if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
                inner.fail(name, "a number")
        return {name: float(value) for name, value in found.items()}

    def counts(self, key: str) -> dict[str, int]:
        found = self.mapping(key)
        inner = _Fields(found, self.path, f"{self.prefix}{key}.")
        return {str(name): inner.count(name) for name in found}

    def files(self, key: str) -> tuple[FileRows, ...]:
        rows = []
        for index, item in enumerate(self.listing(key)):
            if not isinstance(item, dict):
                self.fail(key, "a list of {path, kind, rows} objects")
            inner = _Fields(item, self.path, f"{self.prefix}{key}[{index}].")
            rows.append(FileRows(inner.text("path", empty=False), inner.text("kind"),
                                 inner.count("rows")))  # fmt: skip
        return tuple(rows)


def _file(path: str | Path, name: str) -> Path:
    path = Path(path)
    return path / name if path.is_dir() else path


def _read_object(path: str | Path, name: str) -> tuple[Path, dict[str, Any]]:
    file, what = _file(path, name), _WHAT[name]
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StepFileError(f"{file}: {what} not found; the step wrote no such output") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise StepFileError(f"{file}: {what} is not readable JSON ({reason})") from None
    if not isinstance(data, dict):
        raise StepFileError(f"{file}: {what} must hold a JSON object, got {type(data).__name__}")
    return file, data


def _write_object(data: Mapping[str, Any], folder: Path, name: str) -> Path:
    """``folder/name``, written beside its name and renamed: never half a file under it."""
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / f".{name}.partial"
    partial.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    os.replace(partial, folder / name)
    return folder / name


# ---------------------------------------------------------------------------------------
# decision.json: the serialised taxi_fare.gate.Decision


def read_decision(path: str | Path) -> Decision:
    """The gate's decision from an evaluation folder (or the file), checked field by field."""
    file, data = _read_object(path, DECISION_FILE)
    get = _Fields(data, file)
    promote = get.boolean("promote")
    reason = get.text("reason", empty=False)
    if data.get("mode") not in MODES:
        get.fail("mode", f"one of {', '.join(MODES)}")
    challenger = get.metrics("challenger")
    champion = None if data.get("champion") is None else get.metrics("champion")
    checks = get.listing("checks") if "checks" in data else []
    if not all(isinstance(check, dict) for check in checks):
        get.fail("checks", "a list of JSON objects")
    return Decision(
        promote=promote,
        reason=reason,
        mode=str(data["mode"]),
        challenger=challenger,
        champion=champion,
        champion_version=get.optional_int("champion_version"),
        policy=get.mapping("policy"),
        would_promote=get.boolean("would_promote") if "would_promote" in data else False,
        checks=checks,
        test_rows=get.optional_int("test_rows", minimum=0),
        judged_rows=get.optional_int("judged_rows", minimum=0),
        split=get.optional_mapping("split"),
        champion_split=get.optional_mapping("champion_split"),
        challenger_model_uuid=get.optional_text("challenger_model_uuid"),
    )


def write_decision(decision: Decision, folder: Path) -> Path:
    """``decision.json`` in ``folder`` (the keys of ``Decision``, in field order)."""
    return _write_object(decision.to_dict(), folder, DECISION_FILE)


# ---------------------------------------------------------------------------------------
# model_info.json: what the register step did


@dataclass(frozen=True)
class ModelInfo:
    """Whether the challenger was registered, as which version, by which run, and why."""

    registered: bool
    name: str
    version: int | None
    run_id: str | None
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def read_model_info(path: str | Path) -> ModelInfo:
    """The register step's ``model_info.json``; a registered model must name its version."""
    file, data = _read_object(path, MODEL_INFO_FILE)
    get = _Fields(data, file)
    registered = get.boolean("registered")
    version = get.optional_int("version", minimum=1)
    if registered and version is None:
        get.fail("version", "a positive integer when registered")
    return ModelInfo(
        registered=registered,
        name=get.text("name", empty=False),
        version=version,
        run_id=get.optional_text("run_id"),
        reason=get.text("reason"),
    )


def write_model_info(info: ModelInfo, folder: Path) -> Path:
    return _write_object(info.to_dict(), folder, MODEL_INFO_FILE)


# ---------------------------------------------------------------------------------------
# quality.json (prep) and stage_report.json (stageprep): rows read, dropped and kept


@dataclass(frozen=True)
class FileRows:
    """One input file: its path, its kind (green, yellow, features) and its rows."""

    path: str
    kind: str
    rows: int


@dataclass(frozen=True)
class QualityReport:
    """prep's data counts: per file, per drop reason (``cleaning.RULES``), per split side."""

    files: tuple[FileRows, ...]
    rows_read: int
    dropped: dict[str, int]
    rows_kept: int
    train_rows: int
    test_rows: int
    data_fingerprint: str
    #: ``SplitSpec.to_dict()`` of the split that made the train and test folders.
    split: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self)}


def read_quality(path: str | Path) -> QualityReport:
    """prep's ``quality.json`` from its quality_report folder (or the file)."""
    file, data = _read_object(path, QUALITY_FILE)
    get = _Fields(data, file)
    return QualityReport(
        files=get.files("files"),
        rows_read=get.count("rows_read"),
        dropped=get.counts("dropped"),
        rows_kept=get.count("rows_kept"),
        train_rows=get.count("train_rows"),
        test_rows=get.count("test_rows"),
        data_fingerprint=get.text("data_fingerprint", empty=False),
        split=get.mapping("split"),
    )


def write_quality(report: QualityReport, folder: Path) -> Path:
    return _write_object(report.to_dict(), folder, QUALITY_FILE)


@dataclass(frozen=True)
class StageReport:
    """Which rows the stage test set holds and why (``taxi_fare.stage``)."""

    files: tuple[FileRows, ...]
    rows_read: int
    dropped: dict[str, int]
    excluded_training_rows: int
    exclude_data: tuple[str, ...]
    rows_eligible: int
    rows_selected: int
    ordered_by: str
    pickup_from: str
    pickup_to: str
    data_fingerprint: str

    def to_dict(self) -> dict[str, Any]:
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self)}


def read_stage_report(path: str | Path) -> StageReport:
    """The stage set's ``stage_report.json`` from its folder (or the file)."""
    file, data = _read_object(path, STAGE_REPORT_FILE)
    get = _Fields(data, file)
    excluded = get.listing("exclude_data")
    if not all(isinstance(p, str) for p in excluded):
        get.fail("exclude_data", "a list of paths")
    return StageReport(
        files=get.files("files"),
        rows_read=get.count("rows_read"),
        dropped=get.counts("dropped"),
        excluded_training_rows=get.count("excluded_training_rows"),
        exclude_data=tuple(excluded),
        rows_eligible=get.count("rows_eligible"),
        rows_selected=get.count("rows_selected"),
        ordered_by=get.text("ordered_by", empty=False),
        pickup_from=get.text("pickup_from"),
        pickup_to=get.text("pickup_to"),
        data_fingerprint=get.text("data_fingerprint", empty=False),
    )


def write_stage_report(report: StageReport, folder: Path) -> Path:
    return _write_object(report.to_dict(), folder, STAGE_REPORT_FILE)


def _plain(value: object) -> object:
    """JSON data of a field: tuples become lists, ``FileRows`` objects."""
    if isinstance(value, FileRows):
        return asdict(value)
    if isinstance(value, tuple):
        return [_plain(item) for item in value]
    return value
