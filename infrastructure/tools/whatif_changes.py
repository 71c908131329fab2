"""Compare two `az deployment sub what-if --no-pretty-print` results: the approved one and now.

ARM has no saved plan: a deployment applies the template as Azure stands at deploy time. So the
Bicep pipeline publishes the what-if of its plan stage, and its deploy stage (behind the
environment's approval) runs what-if again and deploys only if the changes are the same; a
change made in between (someone else's deployment, a portal edit) fails the stage instead of
being deployed unseen.

    python infrastructure/tools/whatif_changes.py APPROVED.json CURRENT.json

Exit 0 when both describe the same changes, 1 with one line per difference, 2 on unreadable
input. The what-if result shape (``changes[].changeType``, ``resourceId``, ``delta[]`` with
``path``, ``propertyChangeType``, ``before``, ``after``) is that of the ARM WhatIfOperationResult
(azure-rest-api-specs specification/resources/resource-manager/Microsoft.Resources/.../
resources.json, definitions WhatIfChange and WhatIfPropertyChange). NoChange and Ignore entries
are not changes and are left out.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

NOT_A_CHANGE = {"NoChange", "Ignore"}


class WhatIfError(ValueError):
    """The file is not a what-if result."""


def _flatten(delta: list[dict[str, Any]], prefix: str = "") -> list[str]:
    lines = []
    for item in delta or []:
        path = f"{prefix}{item.get('path', '?')}"
        kind = item.get("propertyChangeType", "?")
        if item.get("children"):
            lines += _flatten(item["children"], f"{path}.")
        elif kind not in NOT_A_CHANGE:
            after = json.dumps(item.get("after"), sort_keys=True)
            lines.append(f"{path} {kind} -> {after}")
    return lines


def changes(result: dict[str, Any]) -> list[str]:
    """One line per resource change and per changed property, sorted, comparable."""
    if not isinstance(result, dict) or not isinstance(result.get("changes"), list):
        raise WhatIfError("no 'changes' list: not an az deployment what-if result")
    lines = []
    for change in result["changes"]:
        kind = change.get("changeType", "?")
        if kind in NOT_A_CHANGE:
            continue
        resource = str(change.get("resourceId", "?")).lower()
        lines.append(f"{resource}: {kind}")
        lines += [f"{resource}: {line}" for line in _flatten(change.get("delta") or [])]
    return sorted(lines)


def differences(approved: dict[str, Any], current: dict[str, Any]) -> list[str]:
    before, now = changes(approved), changes(current)
    return [f"approved only: {line}" for line in before if line not in now] + [
        f"not approved: {line}" for line in now if line not in before
    ]


def _read(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise WhatIfError(f"{path}: {exc}") from exc


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        sys.stderr.write("usage: whatif_changes.py APPROVED.json CURRENT.json\n")
        return 2
    try:
        problems = differences(_read(Path(args[0])), _read(Path(args[1])))
    except WhatIfError as exc:
        sys.stderr.write(f"{exc}\n")
        return 2
    for line in problems:
        sys.stdout.write(f"{line}\n")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
