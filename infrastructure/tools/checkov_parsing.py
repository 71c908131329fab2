"""Fail when checkov could not parse an IaC file.

checkov exits 0 when a file does not parse: the file is simply not scanned (this once hid
``workspace.bicep``). ``make check-infra`` pipes checkov's JSON report here, and any
``parsing_errors`` in a framework's summary fails the target with one line per framework.
The report is one or more JSON documents written back to back (a dict per framework, or a
list of them), so they are decoded one after another.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import Any


def summaries(text: str) -> Iterator[dict[str, Any]]:
    """Every framework's result object in checkov's concatenated JSON output."""
    decoder = json.JSONDecoder()
    at = 0
    while True:
        while at < len(text) and text[at].isspace():
            at += 1
        if at >= len(text):
            return
        document, at = decoder.raw_decode(text, at)
        yield from document if isinstance(document, list) else [document]


def problems(text: str) -> list[str]:
    """One line per framework whose files did not all parse; a report with no summary is one."""
    found = list(summaries(text))
    if not found:
        return ["checkov wrote no report: nothing was scanned"]
    return [
        f"checkov {result.get('check_type', '?')}: {count} file(s) could not be parsed and "
        "were not scanned; run checkov without --quiet to see which"
        for result in found
        if (count := int(result.get("summary", {}).get("parsing_errors", 0)))
    ]


def main() -> int:
    try:
        lines = problems(sys.stdin.read())
    except (json.JSONDecodeError, ValueError) as exc:
        lines = [f"checkov's JSON report could not be read: {exc}"]
    for line in lines:
        print(line, file=sys.stderr)
    return 1 if lines else 0


if __name__ == "__main__":
    sys.exit(main())
