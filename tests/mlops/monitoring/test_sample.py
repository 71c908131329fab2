"""The README's demonstration without training: the committed sample against its own
training split passes; trips from the shifted generator setting breach."""

from __future__ import annotations

import pytest
from taxi_fare.split import SplitSpec, is_test

from mlops import settings
from mlops.monitoring.data import read_table
from mlops.monitoring.signals import compute

SAMPLE = settings.REPO_ROOT / "data" / "sample"


@pytest.fixture(scope="module")
def sample(spec):
    return read_table(SAMPLE, spec.features)


@pytest.fixture(scope="module")
def train_split(sample):
    """The rows prep puts on the training side (pipeline.yml: seed 42, test_size 0.3)."""
    table = sample.features.assign(cost=sample.labels)
    train = table[~is_test(table, SplitSpec(42, 0.3))]
    assert 0.6 * len(table) < len(train) < 0.8 * len(table)
    return train


def _breached(spec, train, features, labels):
    results = compute(spec, train[list(spec.features)], features,
                      train["cost"].to_numpy(), labels)  # fmt: skip
    return {(r.signal, r.feature) for r in results if r.breached}


def test_the_committed_sample_does_not_breach(spec, sample, train_split):
    assert sample.rows > 11_000
    assert _breached(spec, train_split, sample.features, sample.labels) == set()


def test_the_shifted_generator_setting_breaches(spec, trips, train_split):
    longer = trips(6_000, 7, distance_scale=1.5)  # the README's command
    found = _breached(spec, train_split, longer.features, longer.labels)
    assert ("data_drift", "distance") in found
    assert ("prediction_drift", "cost") in found
