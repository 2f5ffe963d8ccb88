"""Is one model better than another on the same statements? Pure functions (no I/O).

Two models are compared on their out-of-fold predictions for the same statements, fold by
fold, with the statistic the leaderboard reports: a headline score (macro-F1 by default)
averaged over folds.

* :func:`approximate_randomisation`: a paired permutation test. Under the null hypothesis
  the two models are exchangeable, so each statement's pair of predictions is swapped
  with probability 1/2; the p-value is the share of shuffles whose score difference is at
  least as large (in absolute value) as the observed one, counting the observed one
  (Noreen 1989; Dror et al. 2018). Identical predictions give p = 1.
* :func:`paired_bootstrap_ci`: a confidence interval of the score difference, resampling
  statements within each fold, the same draws for both models.
* :func:`mcnemar`: McNemar's exact test on the statements one model gets right and the
  other wrong (pooled over folds), via scipy's binomial test.
* :func:`holm`: Holm's step-down adjustment for testing several models against the best.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from stance.evaluation.metrics import confusion_stack, label_codes, quiet_nanmean, scores_from_confusion
from stance.labels import LABELS

#: One fold of a paired comparison: gold labels, model A's and model B's predictions.
PairedFold = tuple[Sequence[str], Sequence[str], Sequence[str]]

_BLOCK = 1000  # resamples scored per block, so big test sets stay within memory


@dataclass(frozen=True)
class McNemar:
    a_only: int  #: statements A gets right and B wrong
    b_only: int  #: statements B gets right and A wrong
    p_value: float


def _coded(folds: Sequence[PairedFold], labels: Sequence[str]):
    coded = []
    for gold, a, b in folds:
        if not len(gold) == len(a) == len(b):
            raise ValueError("gold and both predictions must have the same length in every fold")
        coded.append((label_codes(gold, labels), label_codes(a, labels), label_codes(b, labels)))
    return coded


def _fold_mean(per_fold: list[np.ndarray]) -> np.ndarray:
    return quiet_nanmean(np.stack(per_fold), axis=0)


def score_difference(folds: Sequence[PairedFold], metric: str = "macro_f1", labels: Sequence[str] = LABELS) -> float:
    """Observed difference, A minus B, of ``metric`` averaged over folds."""
    size = len(labels)
    a_scores, b_scores = [], []
    for gold, a, b in _coded(folds, labels):
        a_scores.append(scores_from_confusion(confusion_stack(gold, a[None], size), labels)[metric])
        b_scores.append(scores_from_confusion(confusion_stack(gold, b[None], size), labels)[metric])
    return float((_fold_mean(a_scores) - _fold_mean(b_scores))[0])


def approximate_randomisation(folds: Sequence[PairedFold], metric: str = "macro_f1", n_resamples: int = 10000,
                              seed: int = 0, labels: Sequence[str] = LABELS) -> float:
    """Two-sided p-value of the difference in ``metric`` (mean over folds) between A and B."""
    size = len(labels)
    coded = _coded(folds, labels)
    observed = abs(score_difference(folds, metric, labels))
    rng = np.random.default_rng(seed)
    extreme = 0
    for start in range(0, n_resamples, _BLOCK):
        block = min(_BLOCK, n_resamples - start)
        a_scores, b_scores = [], []
        for gold, a, b in coded:
            swap = rng.random((block, len(gold))) < 0.5
            shuffled_a, shuffled_b = np.where(swap, b, a), np.where(swap, a, b)
            a_scores.append(scores_from_confusion(confusion_stack(gold, shuffled_a, size), labels)[metric])
            b_scores.append(scores_from_confusion(confusion_stack(gold, shuffled_b, size), labels)[metric])
        differences = np.abs(_fold_mean(a_scores) - _fold_mean(b_scores))
        extreme += int(np.sum(differences >= observed - 1e-12))
    return (extreme + 1) / (n_resamples + 1)


def paired_bootstrap_ci(folds: Sequence[PairedFold], metric: str = "macro_f1", n_resamples: int = 1000,
                        confidence: float = 0.95, seed: int = 0,
                        labels: Sequence[str] = LABELS) -> tuple[float, float]:
    """Bootstrap confidence interval of the difference A minus B in ``metric`` (mean over folds)."""
    size = len(labels)
    rng = np.random.default_rng(seed)
    a_scores, b_scores = [], []
    for gold, a, b in _coded(folds, labels):
        draws = rng.integers(0, len(gold), size=(n_resamples, len(gold)))
        a_scores.append(scores_from_confusion(confusion_stack(gold[draws], a[draws], size), labels)[metric])
        b_scores.append(scores_from_confusion(confusion_stack(gold[draws], b[draws], size), labels)[metric])
    differences = _fold_mean(a_scores) - _fold_mean(b_scores)
    differences = differences[~np.isnan(differences)]
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(differences, [tail, 100 - tail])
    return float(low), float(high)


def mcnemar(gold: Sequence[str], a: Sequence[str], b: Sequence[str]) -> McNemar:
    """McNemar's exact test: do A and B make different numbers of errors on the same statements?"""
    from scipy.stats import binomtest

    gold, a, b = np.asarray(gold), np.asarray(a), np.asarray(b)
    a_right, b_right = a == gold, b == gold
    a_only, b_only = int(np.sum(a_right & ~b_right)), int(np.sum(b_right & ~a_right))
    if a_only + b_only == 0:
        return McNemar(0, 0, 1.0)
    return McNemar(a_only, b_only, float(binomtest(a_only, a_only + b_only, 0.5).pvalue))


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (missing values stay missing and are not counted)."""
    values = np.asarray(p_values, dtype=float)
    present = np.flatnonzero(~np.isnan(values))
    adjusted = np.full(values.shape, np.nan)
    order = present[np.argsort(values[present], kind="stable")]
    m = len(order)
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * values[index]))
        adjusted[index] = running
    return adjusted.tolist()
