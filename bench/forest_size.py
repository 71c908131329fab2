"""What the train2 forest's size buys: ``python -m bench.forest_size --workdir DIR [SPEC...]``.

A diagnostic beside ``bench.serving_probe`` (not one of ``make bench``'s ratios), run on a
bench workspace that already holds the train bench's rows and prep's test split (``python
-m bench --only train --workdir DIR`` builds them). For each ``TREES:MIN_SAMPLES_LEAF``
spec it fits ``taxi_fare.models.random_forest_pipeline`` with the other defaults of
``taxi_fare.forest_params`` and reports the test RMSE and the forest's node count: the
nodes are what an online request walks (memory-bound), the RMSE what they buy.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

SPECS = ("200:2", "200:5", "100:5", "100:10", "50:5", "50:10")
TEST_ROWS = 60_000


def parse_spec(text: str) -> tuple[int, int]:
    """``TREES:MIN_SAMPLES_LEAF`` as two positive integers; SystemExit naming a bad spec."""
    trees, sep, leaf = text.partition(":")
    try:
        parsed = (int(trees), int(leaf))
    except ValueError:
        parsed = (0, 0)
    if not sep or min(parsed) < 1:
        raise SystemExit(f"error: spec {text!r}: expected TREES:MIN_SAMPLES_LEAF, e.g. 100:5")
    return parsed


def measure(train: Path, test: Path, specs: list[tuple[int, int]],
            test_rows: int = TEST_ROWS) -> list[dict[str, Any]]:  # fmt: skip
    """Test RMSE and node count of the forest of each (trees, min_samples_leaf)."""
    import numpy as np
    import pandas as pd
    from taxi_fare.models import random_forest_pipeline
    from taxi_fare.schema import FEATURES, TARGET

    fit_on = pd.read_parquet(train / "data.parquet")
    held_out = pd.read_parquet(test / "data.parquet").head(test_rows)
    rows = []
    for trees, leaf in specs:
        pipeline = random_forest_pipeline(n_estimators=trees, min_samples_leaf=leaf)
        pipeline.fit(fit_on[list(FEATURES)], fit_on[TARGET])
        error = pipeline.predict(held_out[list(FEATURES)]) - held_out[TARGET].to_numpy()
        forest = pipeline.steps[-1][1]
        rows.append({
            "trees": trees,
            "min_samples_leaf": leaf,
            "test_rmse": float(np.sqrt(np.mean(error**2))),
            "nodes": int(sum(tree.tree_.node_count for tree in forest.estimators_)),
        })  # fmt: skip
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.forest_size",
                                     description=__doc__.splitlines()[0])  # fmt: skip
    parser.add_argument("--workdir", type=Path, required=True, help="a bench workspace")
    parser.add_argument("specs", nargs="*", default=list(SPECS), help="TREES:MIN_SAMPLES_LEAF")
    args = parser.parse_args(argv)
    specs = [parse_spec(s) for s in args.specs]
    trains = sorted(args.workdir.glob("train-*/data.parquet"))
    test = args.workdir / "prep" / "test"
    if not trains or not (test / "data.parquet").is_file():
        hint = f"python -m bench --only train --workdir {args.workdir}"
        raise SystemExit(f"error: {args.workdir} has no train-*/ rows or prep/test split: {hint}")
    rows = measure(trains[-1].parent, test, specs)
    print(json.dumps({"train": str(trains[-1].parent), "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
