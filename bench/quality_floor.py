"""A lower bound on any model's test RMSE on the generated trips: the tip's variance alone.

``python -m bench.quality_floor [--rows 50000] [--seed 42]`` (bench.quality's defaults).
Even a model that knew each trip's metered base (fare + extra + MTA tax + improvement
surcharge) exactly cannot know whether it was paid by card, nor the drawn tip share: the
generator (mlops/datagen/generator.py) draws both independently of every feature. So
``Var(tip | base) = base**2 * (p E[S**2] - (p E[S])**2)`` with ``p = P(payment == 1) =
card_share * 0.99`` and ``S`` the tip share, and ``sqrt(mean Var)`` bounds the RMSE from
below. Tolls, also drawn at random, only raise the true floor, so they are left out.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from mlops.datagen.generator import generate

#: The generator's tip-share draw: values, their probabilities, the jitter's std.
TIP_SHARES = (0.0, 0.1, 0.15, 0.2, 0.25, 0.3)
TIP_PROBS = (0.08, 0.07, 0.2, 0.4, 0.15, 0.1)
TIP_JITTER = 0.01
#: P(payment == 1) per kind: the card share, less the 1% overwritten to other payments.
CARD = {"yellow": 0.62 * 0.99, "green": 0.48 * 0.99}


def tip_share_moments(draws: int = 2_000_000, seed: int = 0) -> tuple[float, float]:
    """E[S] and E[S**2] of the clipped tip share, by Monte Carlo."""
    rng = np.random.default_rng(seed)
    share = rng.choice(TIP_SHARES, draws, p=TIP_PROBS) + rng.normal(0.0, TIP_JITTER, draws)
    share = np.clip(share, 0.0, None)
    return float(share.mean()), float((share**2).mean())


def tip_variance(base: np.ndarray, card: float, moments: tuple[float, float]) -> np.ndarray:
    """Var(tip | base) for a trip whose card payment has probability ``card``."""
    mean, square = moments
    return base**2 * (card * square - (card * mean) ** 2)


def floor_rmse(raw: Path, moments: tuple[float, float]) -> tuple[float, int]:
    """The tip-only RMSE bound over the generated files in ``raw``, and the rows it used."""
    variances = []
    for path in sorted(raw.glob("*.csv")):
        table = pd.read_csv(path)
        base = table[["fareAmount", "extra", "mtaTax", "improvementSurcharge"]].sum(axis=1)
        keep = (base > 0) & (table["totalAmount"] > 0) & (table["totalAmount"] < 500)
        kind = "yellow" if path.name.startswith("yellow") else "green"
        variances.append(tip_variance(base[keep].to_numpy(), CARD[kind], moments))
    joined = np.concatenate(variances)
    return float(np.sqrt(joined.mean())), int(joined.size)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="quality-floor-") as tmp:
        raw = Path(tmp) / "raw"
        generate(args.rows, raw, seed=args.seed)
        rmse, rows = floor_rmse(raw, tip_share_moments())
    print(f"tip-only lower bound on test RMSE over {rows:,} trips: {rmse:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
