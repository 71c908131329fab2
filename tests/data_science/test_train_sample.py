"""The RandomForest's seeded, stable training sample (issue 21, training at scale)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from taxi_fare.sample import read_sample
from taxi_fare.schema import FEATURES, TARGET
from taxi_fare.split import SplitError, write_split


def table(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({name: rng.random(n) for name in (*FEATURES, TARGET)})


def keys(frame: pd.DataFrame) -> set[tuple]:
    return set(map(tuple, frame[[*FEATURES, TARGET]].to_numpy()))


def test_sample_is_stable_and_about_the_size_asked(tmp_path: Path) -> None:
    rows = table(20_000, 1)
    write_split(rows, tmp_path / "a")
    shuffled = rows.sample(frac=1.0, random_state=3)  # same trips, other order, two parts
    (tmp_path / "b").mkdir()
    shuffled.iloc[:7_000].to_parquet(tmp_path / "b/part-00000.parquet", index=False)
    shuffled.iloc[7_000:].to_parquet(tmp_path / "b/part-00001.parquet", index=False)
    first, second = read_sample(tmp_path / "a", 5_000, 42), read_sample(tmp_path / "b", 5_000, 42)
    assert keys(first) == keys(second)  # the same trips, however ordered or cut into files
    assert abs(len(first) - 5_000) < 4 * np.sqrt(5_000)
    assert keys(first) != keys(read_sample(tmp_path / "a", 5_000, 7))  # the seed matters
    assert len(read_sample(tmp_path / "a", 0, 42)) == 20_000  # 0: every row
    assert len(read_sample(tmp_path / "a", 50_000, 42)) == 20_000
    with pytest.raises(SplitError, match="max_train_rows must be 0"):
        read_sample(tmp_path / "a", -1, 42)
