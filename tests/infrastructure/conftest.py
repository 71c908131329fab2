"""tests/ is not a package (importlib mode): register the sibling helper ``iac_model`` by path
once, before the test modules of this folder import it."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

if "iac_model" not in sys.modules:
    _spec = importlib.util.spec_from_file_location(
        "iac_model", Path(__file__).with_name("iac_model.py")
    )
    assert _spec is not None and _spec.loader is not None
    _module = importlib.util.module_from_spec(_spec)
    sys.modules["iac_model"] = _module
    _spec.loader.exec_module(_module)
