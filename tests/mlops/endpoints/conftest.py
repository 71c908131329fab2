"""Shared endpoint fixtures: tiny MLflow models (saved once per session) and server helpers."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import endpoint_models  # noqa: E402

from mlops.endpoints.local_server import LocalServer  # noqa: E402


class _Models(dict[str, Path]):
    """Model folders by kind, each saved on first use (a save costs about a second)."""

    def __init__(self, root: Path) -> None:
        super().__init__()
        self.root = root

    def __missing__(self, kind: str) -> Path:
        self[kind] = endpoint_models.save_model(self.root / kind, kind)
        return self[kind]


@pytest.fixture(scope="session")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Model folders by kind: good, shifted (a second healthy version), nan (predicts NaN)."""
    return _Models(tmp_path_factory.mktemp("endpoint-models"))


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
