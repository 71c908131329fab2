"""A seeded, stable sample of a split folder, read one row group at a time.

For training data larger than a node's memory: a row is in the sample when the row hash
of ``taxi_fare.split`` under a seed of its own (the split's seed mixed with a salt, so
the sample is not the test side) falls below ``max_rows / rows``. So the same trip is
sampled however the data is ordered or cut into files, and memory holds the sample plus
one row group, never the whole folder. The sample size is binomial around ``max_rows``
(within a few standard deviations, sqrt(max_rows)).
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from taxi_fare.split import DATA_FILE, SplitError, holdout_fraction, read_split

log = logging.getLogger(__name__)

#: Mixed into the seed so that "in the sample" is independent of "on the test side".
SAMPLE_SALT = 0x5A3F1E


def split_files(folder: Path) -> list[Path]:
    """The parquet files of a split folder (``data.parquet`` or the parts layout)."""
    folder = Path(folder)
    if folder.is_file():
        return [folder]
    single = folder / DATA_FILE
    return [single] if single.is_file() else sorted(folder.glob("part-*.parquet"))


def read_sample(folder: str | Path, max_rows: int, seed: int) -> pd.DataFrame:
    """At most about ``max_rows`` rows of the split in ``folder``; all rows when it has fewer
    or ``max_rows`` is 0."""
    import pyarrow.parquet as pq

    files = split_files(Path(folder))
    if max_rows < 0:
        raise SplitError(f"max_train_rows must be 0 (all rows) or more, got {max_rows}")
    total = sum(pq.ParquetFile(f).metadata.num_rows for f in files) if files else 0
    if max_rows == 0 or total <= max_rows:
        return read_split(folder)
    share = max_rows / total
    kept: list[pd.DataFrame] = []
    for file in files:
        source = pq.ParquetFile(file)
        for group in range(source.num_row_groups):
            block = source.read_row_group(group).to_pandas()
            kept.append(block[holdout_fraction(block, seed ^ SAMPLE_SALT) < share])
            del block
    sample = pd.concat(kept, ignore_index=True)
    log.info("sampled %s of %s training rows (max_train_rows %s, seed %s)",
             f"{len(sample):,}", f"{total:,}", f"{max_rows:,}", seed)  # fmt: skip
    return sample
