"""Prior shift: re-weight a classifier's probabilities for a label mix other than its training mix.

A model trained on one label mix (the written statements are a third of each label) and
applied to text with another (a news article that is mostly ``oppose``) is miscalibrated in a
known way: p_new(y|x) is proportional to p_train(y|x) * pi_new(y) / pi_train(y) (Saerens,
Latinne and Decaestecker, 2002). The new mix ``pi_new`` is given, or estimated from the
unlabelled statements themselves by EM. Pure functions, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from stance.errors import StanceError

METHODS = ("em",)


def adjust(proba: np.ndarray, train_prior: np.ndarray, new_prior: np.ndarray) -> np.ndarray:
    """Probabilities re-weighted from ``train_prior`` to ``new_prior`` (rows sum to 1).

    A label the model never saw in training (prior 0) keeps probability 0.
    """
    proba, train_prior, new_prior = (np.asarray(a, dtype=float) for a in (proba, train_prior, new_prior))
    ratio = np.divide(new_prior, train_prior, out=np.zeros_like(train_prior), where=train_prior > 0)
    weighted = proba * ratio
    total = weighted.sum(axis=1, keepdims=True)
    return np.divide(weighted, total, out=proba.copy(), where=total > 0)


def em_prior(proba: np.ndarray, train_prior: np.ndarray, max_iter: int = 1000,
             tol: float = 1e-8) -> tuple[np.ndarray, np.ndarray]:
    """The label mix of the statements behind ``proba``, estimated by EM, and the re-weighted
    probabilities: ``(new_prior, adjusted)``. Starts from the training mix."""
    proba, train_prior = np.asarray(proba, dtype=float), np.asarray(train_prior, dtype=float)
    if len(proba) == 0:
        return train_prior.copy(), proba.copy()
    prior = train_prior.copy()
    for _ in range(max_iter):
        adjusted = adjust(proba, train_prior, prior)
        updated = adjusted.mean(axis=0)
        if np.abs(updated - prior).max() < tol:
            prior = updated
            break
        prior = updated
    return prior, adjust(proba, train_prior, prior)


def shift(proba: np.ndarray, train_prior: np.ndarray, how: str | Mapping[str, float] | None,
          labels: Sequence[str]) -> np.ndarray:
    """Apply a prior-shift setting: None (unchanged), ``"em"`` (estimate the new mix from these
    statements) or a label mix ``{label: share}`` (shares are normalised to sum to 1)."""
    if how is None:
        return np.asarray(proba, dtype=float)
    if isinstance(how, str):
        if how not in METHODS:
            raise StanceError(f"unknown prior shift '{how}' (expected {', '.join(METHODS)} or LABEL=SHARE,...)")
        return em_prior(proba, train_prior)[1]
    unknown = set(how) - set(labels)
    if unknown:
        raise StanceError(f"prior shift: unknown label(s) {', '.join(sorted(unknown))} (labels: {', '.join(labels)})")
    mix = np.array([float(how.get(label, 0.0)) for label in labels])
    if (mix < 0).any() or mix.sum() <= 0:
        raise StanceError("prior shift: label shares must be non-negative and not all 0")
    return adjust(proba, train_prior, mix / mix.sum())


def parse_mix(text: str) -> str | dict[str, float]:
    """``em``, or ``support=0.2,oppose=0.5,neutral=0.3`` as a dict (for the command line)."""
    text = text.strip()
    if "=" not in text:
        return text
    mix = {}
    for part in text.split(","):
        name, _, value = part.partition("=")
        try:
            mix[name.strip()] = float(value)
        except ValueError:
            raise StanceError(f"prior shift: '{part.strip()}' is not LABEL=SHARE") from None
    return mix
