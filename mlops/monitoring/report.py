"""The ``--report DIR`` output: a Markdown summary with baseline-vs-target plots."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from mlops.monitoring.signals import PREDICTION_FEATURE, Result

log = logging.getLogger(__name__)

MAX_PLOTS = 6  # the overview grid; every drifted feature still gets its own plot


def _drift_order(results: list[Result]) -> list[str]:
    """Features ordered: breached drift first, then by normalized Wasserstein distance."""
    score: dict[str, tuple[int, float]] = {}
    for r in results:
        if r.signal.endswith("quality"):
            continue
        value = r.value if r.metric != "pearsons_chi_squared_test" else 0.0
        old = score.get(r.feature, (0, 0.0))
        score[r.feature] = (max(old[0], int(r.breached)), max(old[1], value))
    return sorted(score, key=lambda f: score[f], reverse=True)


def _plot(ax, name: str, ref: np.ndarray, tgt: np.ndarray, categorical: bool) -> None:
    ref, tgt = ref[~np.isnan(ref)], tgt[~np.isnan(tgt)]
    if categorical:
        cats = np.union1d(ref, tgt)
        width = 0.4
        x = np.arange(cats.size)
        ax.bar(x - width / 2, [np.mean(ref == c) for c in cats], width, label="baseline")
        ax.bar(x + width / 2, [np.mean(tgt == c) for c in cats], width, label="target")
        ax.set_xticks(x, [f"{c:g}" for c in cats])
        ax.set_ylabel("share")
    else:
        both = np.concatenate([ref, tgt])
        low, high = np.quantile(both, [0.005, 0.995])
        bins = np.linspace(low, high, 40) if high > low else 10
        ax.hist(ref, bins=bins, density=True, alpha=0.55, label="baseline")
        ax.hist(tgt, bins=bins, density=True, alpha=0.55, label="target")
        ax.set_ylabel("density")
    ax.set_title("predicted cost" if name == PREDICTION_FEATURE else name)
    ax.legend(fontsize=8)


def write_report(
    folder: Path,
    results: list[Result],
    baseline: pd.DataFrame,
    target: pd.DataFrame,
    categorical: frozenset[str],
    baseline_predictions: np.ndarray | None,
    target_predictions: np.ndarray | None,
    title: str,
) -> Path:
    """``folder/report.md`` plus one PNG per plotted feature and ``overview.png``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    columns = {f: (baseline[f].to_numpy("float64"), target[f].to_numpy("float64"))
               for f in baseline.columns}  # fmt: skip
    if baseline_predictions is not None and target_predictions is not None:
        columns[PREDICTION_FEATURE] = (baseline_predictions, target_predictions)
    drifted = sorted(
        {r.feature for r in results if r.breached and not r.signal.endswith("quality")}
    )
    plotted = [f for f in _drift_order(results) if f in columns]
    plotted = drifted or plotted[:3]  # nothing drifted: the three closest to a threshold
    if PREDICTION_FEATURE in columns and PREDICTION_FEATURE not in plotted:
        plotted.append(PREDICTION_FEATURE)
    for name in plotted:
        fig, ax = plt.subplots(figsize=(5, 3.2))
        _plot(ax, name, *columns[name], name in categorical)
        fig.tight_layout()
        fig.savefig(folder / f"{name}.png", dpi=90)
        plt.close(fig)
    grid = plotted[:MAX_PLOTS]
    cols = min(3, len(grid))
    rows = -(-len(grid) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, 3.1 * rows), squeeze=False)
    for ax, name in zip(axes.flat, grid, strict=False):
        _plot(ax, name, *columns[name], name in categorical)
    for ax in list(axes.flat)[len(grid) :]:
        ax.axis("off")
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    fig.savefig(folder / "overview.png", dpi=90)
    plt.close(fig)

    breached = [r for r in results if r.breached]
    lines = [
        f"# {title}",
        "",
        f"Baseline: {len(baseline):,} rows; target: {len(target):,} rows. "
        f"{len(breached)} of {len(results)} checks breached.",
        "",
        "![overview](overview.png)",
        "",
        "## Summary",
        "",
        "| signal | feature | metric | value | threshold | breached |",
        "|---|---|---|---:|---:|---|",
    ]
    shown = breached + [r for r in results if not r.breached]
    for r in shown:
        mark = "**yes**" if r.breached else "no"
        lines.append(
            f"| {r.signal} | {r.feature} | {r.metric} | {r.value:.4g} | {r.threshold:g} | {mark} |"
        )
    lines += ["", "## Distributions", ""]
    for name in plotted:
        lines += [f"### {name}", "", f"![{name}]({name}.png)", ""]
    report = folder / "report.md"
    report.write_text("\n".join(lines), encoding="utf-8")
    log.info("report: %s", report)
    return report
