"""Evaluation artefacts: diagnostic plots and the short markdown report."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from taxi_fare.gate import Decision
from taxi_fare.metrics import METRIC_NAMES


def plot_predictions(actual: np.ndarray, predicted: np.ndarray, folder: Path) -> list[Path]:
    """``predicted_vs_actual.png`` and ``residuals.png``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.scatter(actual, predicted, s=4, alpha=0.4)
    top = float(max(np.max(actual), np.max(predicted)))
    ax.plot([0, top], [0, top], color="black", linewidth=1)
    ax.set(xlabel="actual cost (USD)", ylabel="predicted cost (USD)", title="Predicted vs actual")
    paths.append(folder / "predicted_vs_actual.png")
    fig.savefig(paths[-1], dpi=80, bbox_inches="tight")
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.scatter(predicted, actual - predicted, s=4, alpha=0.4)
    ax.axhline(0.0, color="black", linewidth=1)
    ax.set(xlabel="predicted cost (USD)", ylabel="actual - predicted (USD)", title="Residuals")
    paths.append(folder / "residuals.png")
    fig.savefig(paths[-1], dpi=80, bbox_inches="tight")
    plt.close(fig)
    return paths


def plot_importance(importance: pd.Series, folder: Path, top: int = 20) -> Path:
    """``feature_importance.png``: the ``top`` most important derived features."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = importance.head(top)[::-1]
    fig, ax = plt.subplots(figsize=(6, 0.3 * len(shown) + 1))
    ax.barh(list(shown.index), shown.to_numpy())
    ax.set(xlabel="share of importance", title="Feature importance")
    path = folder / "feature_importance.png"
    fig.savefig(path, dpi=80, bbox_inches="tight")
    plt.close(fig)
    return path


def _value(metrics: dict[str, float] | None, name: str) -> str:
    return "-" if metrics is None else f"{metrics[name]:.4f}"


def markdown(decision: Decision, rows: int, importance: pd.Series | None) -> str:
    """The report: metrics side by side, the gate's verdict, the top features."""
    champion = "none" if decision.champion_version is None else f"v{decision.champion_version}"
    lines = [
        "# Evaluation",
        "",
        f"Test rows: {rows:,}. Champion: {champion}. Gate mode: {decision.mode}.",
        "",
        "| metric | challenger | champion |",
        "|---|---:|---:|",
    ]
    for name in METRIC_NAMES:
        lines.append(
            f"| {name} | {_value(decision.challenger, name)} | {_value(decision.champion, name)} |"
        )
    verdict = "promote" if decision.promote else "do not promote"
    lines += ["", f"**Decision: {verdict}.** {decision.reason}", ""]
    if importance is not None:
        lines += ["## Top features", ""]
        lines += [f"- {name}: {share:.3f}" for name, share in importance.head(10).items()]
        lines.append("")
    return "\n".join(lines)
