"""Scores turned into probabilities, and probabilities put in label order: one softmax and one
reorder for every model, the ONNX path, MLflow's pyfunc, the server and Spark.

numpy only, so the light prediction path can use it."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from stance.labels import LABELS


def softmax(scores: np.ndarray) -> np.ndarray:
    """Row-wise softmax of ``(n, k)`` scores (stable: the row maximum is subtracted first)."""
    scores = np.asarray(scores, dtype=np.float64)
    shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def decision_proba(scores: np.ndarray) -> np.ndarray:
    """Probabilities from a decision function: a softmax of its scores, where a two-class model's
    single column ``s`` stands for the scores ``(-s, s)``."""
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim == 1:
        scores = scores[:, None]
    return softmax(scores if scores.shape[1] > 1 else np.column_stack([-scores[:, 0], scores[:, 0]]))


def in_label_order(values: np.ndarray, classes: Sequence, labels: Sequence[str] = LABELS) -> np.ndarray:
    """``values`` whose last axis follows ``classes`` (a model's ``classes_``), with that axis put in
    the order of ``labels`` (default: the fixed label set).

    A label the model never saw gets 0; a class that is not one of ``labels`` is left out.
    Works for a matrix of probabilities (one row per statement) and for one vector (a prior).
    """
    values = np.asarray(values, dtype=np.float64)
    labels = list(labels)
    full = np.zeros((*values.shape[:-1], len(labels)))
    for k, label in enumerate(classes):
        if label in labels:
            full[..., labels.index(label)] = values[..., k]
    return full
