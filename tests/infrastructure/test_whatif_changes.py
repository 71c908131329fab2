"""The Bicep deploy refuses a what-if that differs from the approved one (issue 14, item 7)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import pytest

TOOL = Path(__file__).resolve().parents[2] / "infrastructure" / "tools" / "whatif_changes.py"


def _load() -> Any:
    spec = importlib.util.spec_from_file_location("whatif_changes", TOOL)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["whatif_changes"] = module
    spec.loader.exec_module(module)
    return module


whatif = _load()

RG = "/subscriptions/0/resourceGroups/rg-taxifare-0001dev/providers"
KV = f"{RG}/Microsoft.KeyVault/vaults/kv-taxifare-0001dev"
ST = f"{RG}/Microsoft.Storage/storageAccounts/sttaxifare0001dev"


def result(*changes: dict[str, Any]) -> dict[str, Any]:
    """The shape of `az deployment sub what-if --no-pretty-print` (WhatIfOperationResult)."""
    return {"status": "Succeeded", "changes": list(changes), "error": None}


def modify(resource: str, path: str, before: Any, after: Any) -> dict[str, Any]:
    return {
        "resourceId": resource,
        "changeType": "Modify",
        "delta": [
            {
                "path": "properties",
                "propertyChangeType": "Modify",
                "children": [
                    {
                        "path": path,
                        "propertyChangeType": "Modify",
                        "before": before,
                        "after": after,
                    }
                ],
            }
        ],
    }


def test_same_changes_in_any_order_pass() -> None:
    approved = result(
        modify(KV, "softDeleteRetentionInDays", 7, 90), {"resourceId": ST, "changeType": "NoChange"}
    )
    current = result(
        {"resourceId": ST.upper(), "changeType": "NoChange"},
        modify(KV, "softDeleteRetentionInDays", 7, 90),
    )
    assert whatif.differences(approved, current) == []


def test_a_change_made_after_approval_is_refused() -> None:
    approved = result(modify(KV, "softDeleteRetentionInDays", 7, 90))
    # Someone lowered the retention in the portal meanwhile: the deployment would now also
    # change the storage account, which nobody approved.
    current = result(
        modify(KV, "softDeleteRetentionInDays", 7, 90),
        modify(ST, "minimumTlsVersion", "TLS1_0", "TLS1_2"),
    )
    assert whatif.differences(approved, current) == [
        f"not approved: {ST.lower()}: Modify",
        f'not approved: {ST.lower()}: properties.minimumTlsVersion Modify -> "TLS1_2"',
    ]


def test_an_approved_change_that_vanished_is_reported() -> None:
    approved = result(modify(KV, "softDeleteRetentionInDays", 7, 90))
    assert whatif.differences(approved, result()) == [
        f"approved only: {KV.lower()}: Modify",
        f"approved only: {KV.lower()}: properties.softDeleteRetentionInDays Modify -> 90",
    ]


def test_cli_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    approved, current, broken = tmp_path / "a.json", tmp_path / "c.json", tmp_path / "b.json"
    approved.write_text(json.dumps(result(modify(KV, "enablePurgeProtection", False, True))))
    current.write_text(json.dumps(result()))
    broken.write_text('{"status": "Succeeded"}')
    assert whatif.main([str(approved), str(approved)]) == 0
    assert whatif.main([str(approved), str(current)]) == 1
    assert f"approved only: {KV.lower()}: Modify" in capsys.readouterr().out
    assert whatif.main([str(approved), str(broken)]) == 2
    assert "no 'changes' list" in capsys.readouterr().err
    assert whatif.main([str(approved), str(tmp_path / "missing.json")]) == 2
