"""Evaluation metrics: pure functions of gold and predicted labels (no I/O).

Per fold: macro-F1, F_avg, accuracy, per-class precision/recall/F1 and the confusion matrix.
Across folds: mean, standard deviation, and a 95% bootstrap confidence interval of the
mean, made by resampling statements within each fold's test set.

Definitions:

* macro-F1 averages the F1 of the labels that occur in the gold or the predicted labels
  of that fold (scikit-learn's convention);
* F_avg is the SemEval-2016 / TweetEval stance metric: the mean F1 of ``support`` and
  ``oppose`` (the F1 of ``neutral`` is not counted);
* a label with no gold and no predicted statement has no F1 and is left out of averages.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from stance.labels import LABELS

HEADLINE = ("macro_f1", "f_avg", "accuracy")
FAVG_LABELS = ("support", "oppose")


def confusion(y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str] = LABELS) -> np.ndarray:
    """Confusion counts, rows gold and columns predicted, in ``labels`` order."""
    from sklearn.metrics import confusion_matrix

    return confusion_matrix(list(y_true), list(y_pred), labels=list(labels))


def quiet_nanmean(values: np.ndarray, axis: int = 0) -> np.ndarray:
    """``np.nanmean`` that gives NaN for all-NaN slices without a warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(values, axis=axis)


def scores_from_confusion(cm: np.ndarray, labels: Sequence[str] = LABELS) -> dict[str, np.ndarray]:
    """Headline scores from one confusion matrix or a stack of them (shape ``(..., L, L)``).

    Vectorised so that thousands of bootstrap resamples cost one call.
    """
    cm = np.asarray(cm, dtype=float)
    tp = np.diagonal(cm, axis1=-2, axis2=-1)
    gold = cm.sum(axis=-1)
    pred = cm.sum(axis=-2)
    denominator = gold + pred
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # no F1 to average: NaN, on purpose
        f1 = np.where(denominator > 0, 2 * tp / np.where(denominator > 0, denominator, 1), np.nan)
        favg_idx = [list(labels).index(lab) for lab in FAVG_LABELS if lab in labels]
        return {
            "macro_f1": np.nanmean(np.where(denominator > 0, f1, np.nan), axis=-1),
            "f_avg": np.nanmean(f1[..., favg_idx], axis=-1),
            "accuracy": tp.sum(axis=-1) / cm.sum(axis=(-2, -1)),
        }


def fold_metrics(y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str] = LABELS) -> dict[str, Any]:
    """Every per-fold figure: headline scores, per-class P/R/F1 and the confusion matrix."""
    from sklearn.metrics import precision_recall_fscore_support

    cm = confusion(y_true, y_pred, labels)
    metrics: dict[str, Any] = {k: float(v) for k, v in scores_from_confusion(cm, labels).items()}
    precision, recall, f1, support = precision_recall_fscore_support(
        list(y_true), list(y_pred), labels=list(labels), zero_division=0
    )
    for k, label in enumerate(labels):
        metrics[f"precision_{label}"] = float(precision[k])
        metrics[f"recall_{label}"] = float(recall[k])
        metrics[f"f1_{label}"] = float(f1[k])
        metrics[f"support_{label}"] = int(support[k])
    metrics["n"] = int(cm.sum())
    metrics["confusion"] = cm.tolist()
    return metrics


def target_key(target: str) -> str:
    """A target's name as it appears in metric names: lower case, runs of other characters as ``_``."""
    import re

    return re.sub(r"[^0-9a-z]+", "_", str(target).lower()).strip("_") or "target"


def per_target_scores(targets: Sequence[str], y_true: Sequence[str], y_pred: Sequence[str],
                      labels: Sequence[str] = LABELS) -> dict[str, dict[str, float]]:
    """Headline scores and statement count of each target's statements, by target (in sorted order).

    On a multi-target benchmark (TweetEval) the official score pools the targets; these show
    where it comes from.
    """
    targets, y_true, y_pred = np.asarray(targets), np.asarray(y_true), np.asarray(y_pred)
    scores = {}
    for target in sorted(set(targets.tolist())):
        mine = targets == target
        cm = confusion(y_true[mine], y_pred[mine], labels)
        scores[str(target)] = {**{k: float(v) for k, v in scores_from_confusion(cm, labels).items()},
                               "n": float(mine.sum())}
    return scores


def expected_calibration_error(confidence: Sequence[float], correct: Sequence[bool], n_bins: int = 10) -> float:
    """Expected calibration error of the top label: the mean gap between confidence and accuracy
    over ``n_bins`` equal-width confidence bins, weighted by the share of statements in each
    (Guo et al., 2017). 0 is perfectly calibrated; NaN for no statements."""
    confidence, correct = np.asarray(confidence, dtype=float), np.asarray(correct, dtype=float)
    if confidence.size == 0:
        return float("nan")
    bins = np.minimum((confidence * n_bins).astype(int), n_bins - 1)
    gaps = [abs(confidence[bins == b].mean() - correct[bins == b].mean()) * (bins == b).mean()
            for b in np.unique(bins)]
    return float(np.sum(gaps))


def confusion_stack(gold: np.ndarray, predicted: np.ndarray, size: int) -> np.ndarray:
    """Confusion matrices of many label-code arrays at once.

    ``gold`` has shape ``(R, n)`` or ``(n,)``, ``predicted`` shape ``(R, n)``; the result has
    shape ``(R, size, size)``, rows gold and columns predicted.
    """
    predicted = np.atleast_2d(predicted)
    codes = np.broadcast_to(gold, predicted.shape) * size + predicted
    offsets = (np.arange(len(predicted)) * size * size)[:, None]
    counts = np.bincount((codes + offsets).ravel(), minlength=len(predicted) * size * size)
    return counts.reshape(len(predicted), size, size)


def label_codes(labels_seq: Sequence[str], labels: Sequence[str] = LABELS) -> np.ndarray:
    index = {label: k for k, label in enumerate(labels)}
    return np.array([index[label] for label in labels_seq], dtype=np.int64)


def bootstrap_fold_means(
    folds: Sequence[tuple[Sequence[str], Sequence[str]]],
    n_resamples: int = 1000,
    seed: int = 0,
    labels: Sequence[str] = LABELS,
) -> dict[str, np.ndarray]:
    """Bootstrap distribution of each headline score's mean over folds.

    Each resample draws every fold's test statements with replacement (keeping fold
    sizes), scores each fold, and averages the folds.
    """
    rng = np.random.default_rng(seed)
    per_fold = []
    for y_true, y_pred in folds:
        gold, pred = label_codes(y_true, labels), label_codes(y_pred, labels)
        draws = rng.integers(0, len(gold), size=(n_resamples, len(gold)))
        per_fold.append(scores_from_confusion(confusion_stack(gold[draws], pred[draws], len(labels)), labels))
    return {m: quiet_nanmean(np.stack([f[m] for f in per_fold]), axis=0) for m in HEADLINE}


def summarise(
    per_fold: Sequence[dict[str, Any]],
    folds: Sequence[tuple[Sequence[str], Sequence[str]]],
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, float]:
    """Mean, standard deviation (ddof=1) and bootstrap CI of each headline score over folds."""
    summary: dict[str, float] = {}
    boot = bootstrap_fold_means(folds, n_resamples, seed)
    tail = (1 - confidence) / 2 * 100
    for metric in HEADLINE:
        values = np.array([f[metric] for f in per_fold], dtype=float)
        values = values[~np.isnan(values)]
        summary[f"{metric}_mean"] = float(values.mean()) if values.size else float("nan")
        summary[f"{metric}_std"] = float(values.std(ddof=1)) if values.size > 1 else 0.0
        finite = boot[metric][~np.isnan(boot[metric])]
        low, high = np.percentile(finite, [tail, 100 - tail]) if finite.size else (np.nan, np.nan)
        summary[f"{metric}_ci_low"] = float(low)
        summary[f"{metric}_ci_high"] = float(high)
    return summary


def classification_report(y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str] = LABELS) -> str:
    """scikit-learn's text report over the pooled out-of-fold predictions."""
    from sklearn.metrics import classification_report as report

    return report(list(y_true), list(y_pred), labels=list(labels), digits=3, zero_division=0)
