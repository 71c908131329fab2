from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.results import (
    Target,
    check_document,
    document,
    measured,
    not_measured,
    table,
    write,
)

MACHINE = {"cpu_count": 2, "cpu_model": "test cpu", "ram_gb": 4.0, "python": "3.11", "date": "x"}


def test_ratio_target_lower_is_better() -> None:
    row = measured("prep_time", "s", "floor", 30.0, 10.0, Target("ratio", "<=", 2.0))
    assert row.ratio == 3.0
    assert row.met is False
    assert row.target == {"on": "ratio", "op": "<=", "value": 2.0, "text": "<= 2x"}
    assert measured("prep_time", "s", "floor", 15.0, 10.0, Target("ratio", "<=", 2.0)).met is True


def test_ratio_target_higher_is_better() -> None:
    assert measured("rps", "req/s", "noop", 80.0, 100.0, Target("ratio", ">=", 0.8)).met is True
    assert measured("rps", "req/s", "noop", 79.0, 100.0, Target("ratio", ">=", 0.8)).met is False


def test_absolute_target_ignores_ratio() -> None:
    row = measured("p99", "ms", "noop p99", 12.0, 2.0, Target("ours", "<=", 15.0))
    assert row.ratio == 6.0
    assert row.met is True
    assert row.target["text"] == "<= 15 ms"


def test_row_without_reference_or_target() -> None:
    row = measured("step", "s", "none", 4.0, None)
    assert row.ratio is None and row.met is None and row.target is None


@pytest.mark.parametrize(("on", "op"), [("speed", "<="), ("ratio", "<")])
def test_target_rejects_unknown_fields(on: str, op: str) -> None:
    with pytest.raises(ValueError, match="target"):
        Target(on, op, 1.0)


def _doc() -> dict:
    rows = [
        measured("prep_time", "s", "floor", 30.0, 10.0, Target("ratio", "<=", 2.0), {"rows": 5}),
        not_measured("online_p99", "ms", "noop", "server did not start"),
    ]
    return document(rows, "python -m bench", "quick", MACHINE)


def test_well_formed_document_has_no_problems() -> None:
    assert check_document(_doc()) == []


def test_check_document_catches_a_wrong_ratio() -> None:
    doc = _doc()
    doc["results"][0]["ratio"] = 2.5
    assert check_document(doc) == ["results[0]: prep_time: ratio 2.5 is not ours / floor_or_peer"]


def test_check_document_catches_a_verdict_that_disagrees() -> None:
    doc = _doc()
    doc["results"][0]["met"] = True
    assert check_document(doc) == ["results[0]: prep_time: met=True disagrees with the target"]


def test_check_document_catches_missing_keys_and_reasons() -> None:
    doc = _doc()
    del doc["machine"]["cpu_model"]
    del doc["results"][0]["unit"]
    doc["results"][1]["details"] = {}
    assert check_document(doc) == [
        "machine: missing key 'cpu_model'",
        "results[0]: missing key 'unit'",
        "results[1]: online_p99: no value and no not_measured reason",
    ]
    assert check_document({"results": []})[0] == "missing key 'schema_version'"


def test_write_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "out" / "results.json"
    write(_doc(), path)
    assert json.loads(path.read_text()) == _doc()
    assert [p.name for p in path.parent.iterdir()] == ["results.json"]


def test_table_shows_verdicts_and_missing_figures() -> None:
    rows = [
        measured("prep_time", "s", "pyarrow floor", 30.0, 10.0, Target("ratio", "<=", 2.0)),
        not_measured("online_p99", "ms", "noop", "no server"),
    ]
    lines = table(rows).splitlines()
    assert len(lines) == 4
    cells = [c.strip() for c in lines[2].strip("|").split("|")]
    assert cells == ["prep_time", "30.0", "10.0", "3.00x", "<= 2x", "NO", "s", "pyarrow floor"]
    assert "not measured" in lines[3]
