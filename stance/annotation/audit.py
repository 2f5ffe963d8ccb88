"""Label audit: rank likely label errors from out-of-fold probabilities (cleanlab).

Every statement gets probabilities from a model that never saw it (stratified k-fold over
the statements audited, seeded), and cleanlab's ``find_label_issues`` ranks the statements
whose given label the other statements' model finds least credible. The result is a list to
re-read against the label spec, not a verdict: a fix is an adjudication decision.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from stance.errors import StanceError
from stance.labels import LABELS

AUDIT_COLUMNS = ("id", "origin", "document", "holder", "given", "suggested", "p_given", "p_suggested",
                 "self_confidence", "text")


def out_of_fold_probabilities(texts: list[str], targets: list[str], labels: list[str],
                              make_estimator: Callable[[], Any], n_splits: int = 5, seed: int = 0) -> np.ndarray:
    """Probabilities (columns: :data:`LABELS`) for each statement from a model fit on the other folds."""
    import pandas as pd
    from sklearn.model_selection import StratifiedKFold

    from stance.models.base import proba_by_label

    y = np.asarray(labels)
    smallest = min(np.unique(y, return_counts=True)[1])
    if smallest < n_splits:
        raise StanceError(f"the audit's {n_splits}-fold split needs {n_splits} statements of every label; "
                          f"the rarest has {smallest}")
    X = pd.DataFrame({"text": texts, "target": targets})
    probabilities = np.zeros((len(y), len(LABELS)))
    for train, test in StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed).split(X, y):
        estimator = make_estimator().fit(X.iloc[train].reset_index(drop=True), y[train])
        probabilities[test] = proba_by_label(estimator, X.iloc[test].reset_index(drop=True))
    return probabilities


def label_issues(records: list[dict[str, Any]], probabilities: np.ndarray):
    """The statements cleanlab flags, most likely error first (a DataFrame of :data:`AUDIT_COLUMNS`)."""
    import pandas as pd
    from cleanlab.filter import find_label_issues

    given = np.array([LABELS.index(r["label"]) for r in records])
    flagged = find_label_issues(given, probabilities, return_indices_ranked_by="self_confidence")
    rows = []
    for k in flagged:
        suggested = int(probabilities[k].argmax())
        r = records[k]
        rows.append({"id": r["id"], "origin": r.get("origin", "article"), "document": r["document"],
                     "holder": r["holder"], "given": r["label"], "suggested": LABELS[suggested],
                     "p_given": float(probabilities[k, given[k]]), "p_suggested": float(probabilities[k, suggested]),
                     "self_confidence": float(probabilities[k, given[k]]), "text": r["text"]})
    return pd.DataFrame(rows, columns=list(AUDIT_COLUMNS))
