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

    #: 50 trees with leaves of at least 10 rows: test RMSE within 0.1% of 100 trees with
    #: leaves of 5 (2.1378 against 2.1362) on 3.3x fewer nodes (198,482 against 663,094).
    #: An online request's tree walk is memory-bound, so it walks a third of the memory:
    #: in the inference server 0.81x the no-op's requests/s against 0.67x (interleaved
    #: rounds, load 2); the fit takes half the time. Bench workspace, 50,000 training rows,
    #: the first 60,000 test rows, ``python -m bench.forest_size --workdir DIR 100:5 100:10
    #: 64:10 50:10 50:5`` (100:10 2.1302, 64:10 2.1363, 50:5 2.1398).
    n_estimators: int = 50
    max_depth: int | None = 16
    min_samples_leaf: int = 10
    min_samples_split: int = 4
    #: A share of the features (0-1], or one of sklearn's names (sqrt, log2).
    max_features: float | str = 0.6
    seed: int = 42

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


RF_DEFAULTS = ForestParams()
