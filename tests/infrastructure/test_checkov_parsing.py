"""infrastructure/tools/checkov_parsing.py: a file checkov could not parse fails check-infra."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

TOOL = Path(__file__).resolve().parents[2] / "infrastructure" / "tools" / "checkov_parsing.py"


def _framework(kind: str, parsing_errors: int) -> dict[str, object]:
    return {
        "check_type": kind,
        "results": {"failed_checks": []},
        "summary": {"passed": 3, "failed": 0, "skipped": 0, "parsing_errors": parsing_errors},
    }


def _gate(report: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(TOOL)], input=report, capture_output=True, text=True, check=False
    )


def test_clean_report_in_checkov_layout_passes() -> None:
    # checkov writes one document per run of a framework, back to back: a dict, then a list.
    report = (
        json.dumps(_framework("terraform", 0), indent=4)
        + "\n"
        + json.dumps([_framework("bicep", 0), _framework("terraform", 0)], indent=4)
    )
    result = _gate(report)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


def test_a_parsing_error_fails_naming_the_framework() -> None:
    report = json.dumps(_framework("terraform", 0)) + json.dumps(
        [_framework("bicep", 1), _framework("terraform", 0)]
    )
    result = _gate(report)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "checkov bicep: 1 file(s) could not be parsed and were not scanned; "
        "run checkov without --quiet to see which"
    ]


def test_an_empty_or_broken_report_fails() -> None:
    assert _gate("").returncode == 1
    broken = _gate('{"check_type": "bicep", ')
    assert broken.returncode == 1
    assert "could not be read" in broken.stderr
