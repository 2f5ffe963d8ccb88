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
