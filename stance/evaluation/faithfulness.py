"""How faithful an explanation is: deletion curves (Samek et al., 2017; DeYoung et al., 2020).

Delete a statement's words one more at a time, k = 0..K, in the explanation's order (the words
pushing most towards the explained label first) and in random orders (seeded), and follow the
label's probability. A faithful explanation makes it fall faster than chance: the mean fall over
k = 1..K (the area over the curve, AOPC) is larger. numpy only; the model is a probability function.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from stance.evaluation.attribution import Explanation, Proba, remove


def deletion_curves(proba: Proba, text: str, explanation: Explanation, k_max: int = 5, draws: int = 5,
                    seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The label's probability as words are deleted: by the explanation, and at random.

    Parameters
    ----------
    proba : callable
        As in :func:`stance.evaluation.attribution.occlusion`; called once with every text needed.
    text : str
        The statement explained.
    explanation : Explanation
        Its explanation; words are deleted from the one pushing most towards its label.
    k_max : int, default=5
        Curves for k = 0 .. k_max words deleted (all of them when the statement has fewer).
    draws : int, default=5
        Random orders averaged for the random curve.
    seed : int, default=0
        Seeds the random orders.

    Returns
    -------
    (ndarray, ndarray)
        Each of shape (k_max + 1,): the probability of ``explanation.label`` with the top-k words
        deleted, and the mean over ``draws`` random k-word deletions. A faithful explanation
        makes the first fall faster.
    """
    if draws < 1:
        raise ValueError("draws must be at least 1")
    found = explanation.words
    c = list(explanation.labels).index(explanation.label)
    rng = np.random.default_rng(seed)
    orders = [explanation.toward()] + [list(rng.permutation(len(found))) for _ in range(draws)]
    texts = [text]
    for order in orders:
        for k in range(1, k_max + 1):
            texts.append(remove(text, [(found[i].start, found[i].end) for i in order[:k]]))
    scores = np.asarray(proba(texts), dtype=np.float64)[:, c]
    curves = scores[1:].reshape(len(orders), k_max)
    return np.concatenate([[scores[0]], curves[0]]), np.concatenate([[scores[0]], curves[1:].mean(axis=0)])


@dataclass
class Faithfulness:
    """Deletion curves averaged over statements: the mean probability of the explained label with
    k words deleted by the explanation (``explained``) and at random (``random``), and their areas
    (the mean of each curve over k = 1..K of the fall from k = 0: larger is a faster fall)."""

    explained: np.ndarray
    random: np.ndarray
    statements: int

    @property
    def explained_drop(self) -> float:
        return float(np.mean(self.explained[0] - self.explained[1:])) if len(self.explained) > 1 else 0.0

    @property
    def random_drop(self) -> float:
        return float(np.mean(self.random[0] - self.random[1:])) if len(self.random) > 1 else 0.0

    @property
    def difference(self) -> float:
        """How much faster the explanation's deletions lower the label than random ones (AOPC gap)."""
        return self.explained_drop - self.random_drop


def faithfulness(curves: Sequence[tuple[np.ndarray, np.ndarray]]) -> Faithfulness:
    """Average :func:`deletion_curves` over statements."""
    if not curves:
        raise ValueError("no deletion curves to average")
    explained = np.mean([a for a, _ in curves], axis=0)
    random = np.mean([b for _, b in curves], axis=0)
    return Faithfulness(explained, random, len(curves))
