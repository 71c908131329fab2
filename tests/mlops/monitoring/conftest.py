"""Monitoring fixtures: realistic feature tables made with the project's trip generator.

Every table comes from ``mlops.datagen`` raw CSVs cleaned exactly as prep does, with a
fixed seed per table, so the statistical tests are deterministic.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from mlops.monitoring.data import Table, read_table
from mlops.monitoring.spec import MonitorSpec, load_monitor_spec, spec_path
from tests import endpoint_models


@pytest.fixture(scope="session")
def spec() -> MonitorSpec:
    return load_monitor_spec(spec_path("dev"))


@pytest.fixture(scope="session")
def trips(tmp_path_factory: pytest.TempPathFactory, spec: MonitorSpec) -> Callable[..., Table]:
    """``trips(rows, seed, distance_scale=1.0)`` -> cleaned feature table (cached)."""
    from mlops.datagen.generator import generate

    root = tmp_path_factory.mktemp("trips")
    cache: dict[tuple[int, int, float], Table] = {}

    def make(rows: int, seed: int, distance_scale: float = 1.0) -> Table:
        key = (rows, seed, distance_scale)
        if key not in cache:
            folder = root / f"{rows}-{seed}-{distance_scale}"
            generate(rows, folder, seed, 2, distance_scale)
            cache[key] = read_table(folder, spec.features)
        return cache[key]

    return make


@pytest.fixture(scope="session")
def baseline(trips: Callable[..., Table]) -> Table:
    """About the size of the committed sample's training split (8,000 rows)."""
    return trips(8_400, 1)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return endpoint_models.save_model(tmp_path_factory.mktemp("model") / "m", "good")
