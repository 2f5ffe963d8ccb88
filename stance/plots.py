"""Figures, drawn on matplotlib ``Figure`` objects (no pyplot, no global backend state).

Functions return figures; callers save or log them.
"""

from __future__ import annotations

from collections.abc import Sequence


def confusion_figure(matrix: Sequence[Sequence[int]], labels: Sequence[str], title: str = ""):
    """A confusion-matrix heat map, rows gold and columns predicted."""
    import numpy as np
    from matplotlib.figure import Figure
    from sklearn.metrics import ConfusionMatrixDisplay

    figure = Figure(figsize=(4.2, 3.8), dpi=120)
    axes = figure.subplots()
    ConfusionMatrixDisplay(np.asarray(matrix), display_labels=list(labels)).plot(
        ax=axes, cmap="Blues", colorbar=False, values_format="d")
    axes.set_xlabel("predicted")
    axes.set_ylabel("gold")
    if title:
        axes.set_title(title)
    figure.tight_layout()
    return figure


def scores_figure(labels: Sequence[str], means: Sequence[float], lows: Sequence[float], highs: Sequence[float],
                  metric: str, title: str = ""):
    """Each run's score with its confidence interval, best at the top."""
    import numpy as np
    from matplotlib.figure import Figure

    n = len(labels)
    figure = Figure(figsize=(6.4, 0.9 + 0.38 * n), dpi=120)
    axes = figure.subplots()
    y = np.arange(n)[::-1]
    means, lows, highs = (np.asarray(v, dtype=float) for v in (means, lows, highs))
    axes.errorbar(means, y, xerr=[means - lows, highs - means], fmt="o", color="tab:blue", ecolor="tab:gray",
                  capsize=3)
    axes.axvline(means[0], color="tab:blue", linewidth=0.8, linestyle=":")
    axes.set_yticks(y, list(labels))
    axes.set_xlabel(f"{metric} (95% CI)" if " " in metric else f"{metric} (mean over folds, 95% CI)")
    axes.set_xlim(0, 1)
    axes.grid(axis="x", alpha=0.3)
    if title:
        axes.set_title(title)
    figure.tight_layout()
    return figure


def curve_figure(lines: dict[str, Sequence[tuple[float, float, float, float]]], metric: str, title: str = ""):
    """Learning curves: for each line, (training statements, mean, CI low, CI high) points."""
    import numpy as np
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.4, 4.2), dpi=120)
    axes = figure.subplots()
    for name, points in lines.items():
        x, mean, low, high = (np.asarray(v, dtype=float) for v in zip(*sorted(points)))
        axes.plot(x, mean, marker="o", label=name)
        axes.fill_between(x, low, high, alpha=0.15)
    axes.set_xlabel("training statements per fold (mean)")
    axes.set_ylabel(f"{metric} (mean over folds, 95% CI)")
    axes.set_ylim(0, 1)
    axes.grid(alpha=0.3)
    axes.legend(fontsize="small")
    if title:
        axes.set_title(title)
    figure.tight_layout()
    return figure
