"""Suite-wide: no test touches the repository's own .mlops/ or ./mlruns; tiny MLflow models."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests import endpoint_models


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Files with an e2e test first, each file's tests kept together and in their order.

    ``make test`` hands whole files to two xdist workers (``--dist loadfile``) in collection
    order (``--no-loadscope-reorder``; by default xdist sends the files with the most tests
    first, which left the few-test pipeline runs for last, on one worker): the long files start
    at once and the hundreds of short ones fill in around them, so both workers end together.
    Among them a file marked ``e2e(minutes=N)`` goes first, the longest first (the release-day
    rehearsal: started last, it would end minutes after everything else).
    """
    minutes: dict[Path, float] = {}
    for item in items:
        marker = item.get_closest_marker("e2e")
        if marker is not None:
            minutes[item.path] = max(minutes.get(item.path, 0.0), marker.kwargs.get("minutes", 0))
    # stable: the e2e files without minutes, and then the rest, keep their order
    items.sort(key=lambda item: (item.path not in minutes, -minutes.get(item.path, 0.0)))


@pytest.fixture(autouse=True, scope="session")
def _isolated_mlops_home(tmp_path_factory: pytest.TempPathFactory):
    saved = {k: os.environ.get(k) for k in ("MLOPS_HOME", "MLFLOW_TRACKING_URI", "MLFLOW_RUN_ID")}
    os.environ["MLOPS_HOME"] = str(tmp_path_factory.mktemp("mlops-home"))
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    os.environ.pop("MLFLOW_RUN_ID", None)
    os.environ.setdefault("MPLBACKEND", "Agg")
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


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
