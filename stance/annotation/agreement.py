"""Inter-annotator agreement between two passes over the same statements (pure functions)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from stance.labels import LABELS


@dataclass(frozen=True)
class Agreement:
    """Agreement figures for two passes, over the statements both labelled."""

    n: int
    observed: float  #: share of statements with the same label
    cohen_kappa: float
    krippendorff_alpha: float  #: nominal level
    labels: tuple[str, ...]
    confusion: np.ndarray  #: rows: first pass, columns: second pass, in ``labels`` order
    only_a: int  #: statements labelled only in the first pass
    only_b: int


def agreement(a: list[dict[str, Any]], b: list[dict[str, Any]], labels: tuple[str, ...] = LABELS) -> Agreement:
    """Cohen's kappa, Krippendorff's alpha and the confusion table of two passes, paired by id."""
    import krippendorff
    from sklearn.metrics import cohen_kappa_score, confusion_matrix

    b_by_id = {r["id"]: r["label"] for r in b}
    shared = [r["id"] for r in a if r["id"] in b_by_id]
    if not shared:
        raise ValueError("the two passes share no statement id")
    a_by_id = {r["id"]: r["label"] for r in a}
    ya = [a_by_id[i] for i in shared]
    yb = [b_by_id[i] for i in shared]
    index = {lab: k for k, lab in enumerate(labels)}
    reliability = np.array([[index[y] for y in ya], [index[y] for y in yb]], dtype=float)
    if len(set(ya) | set(yb)) < 2:  # both passes use one label: perfect, but undefined by formula
        kappa = alpha = 1.0
    else:
        kappa = float(cohen_kappa_score(ya, yb, labels=list(labels)))
        alpha = float(krippendorff.alpha(reliability_data=reliability, level_of_measurement="nominal"))
    return Agreement(
        n=len(shared),
        observed=float(np.mean([x == y for x, y in zip(ya, yb)])),
        cohen_kappa=kappa,
        krippendorff_alpha=alpha,
        labels=tuple(labels),
        confusion=confusion_matrix(ya, yb, labels=list(labels)),
        only_a=len(a_by_id) - len(shared),
        only_b=len(b_by_id) - len(shared),
    )
