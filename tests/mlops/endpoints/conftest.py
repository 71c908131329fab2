"""Endpoint fixtures: one inference server per module over the ``models`` of tests/conftest.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mlops.endpoints.local_server import LocalServer


@pytest.fixture(scope="module")
def good_server(
    models: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalServer]:
    """One inference server with the good model for a whole test module; always stopped."""
    log = tmp_path_factory.mktemp("server-log") / "server.log"
    server = LocalServer(models["good"], log_file=log, env={"SCORE_MAX_ROWS": "50"})
    try:
        server.start()
        yield server
    finally:
        server.stop()
