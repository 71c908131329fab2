"""The train2 RandomForest's hyperparameters, stated once.

``train2.py``'s argument defaults and ``models.random_forest_pipeline``'s defaults are
these; the Azure ML specs (``components/train2.yml``, ``pipeline.yml``,
``pipeline-parallel-prep.yml``) repeat them as input defaults, and
tests/data_science/test_forest_params.py holds them equal. No sklearn here: train2's
``--help`` reads it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class ForestParams:
    """RandomForestRegressor settings of the train2 model (and the seed of its fit)."""

    #: 100 trees with leaves of at least 5 rows: test RMSE within 0.05% of 200 trees with
    #: leaves of 2 (2.1753 against 2.1741), on 3.7x fewer nodes (713,470 against 2,607,662),
    #: so an online request walks a quarter of the memory and training takes half the time.
    #: Measured on the bench workspace (50,000 training rows, the first 60,000 test rows;
    #: leaves of 5: 50 trees 2.1779, 200 trees 2.1720; leaves of 10, 100 trees: 2.1766).
    n_estimators: int = 100
    max_depth: int | None = 16
    min_samples_leaf: int = 5
    min_samples_split: int = 4
    #: A share of the features (0-1], or one of sklearn's names (sqrt, log2).
    max_features: float | str = 0.6
    seed: int = 42

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


RF_DEFAULTS = ForestParams()
