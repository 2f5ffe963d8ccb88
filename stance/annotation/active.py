"""Active learning: which unlabelled statements to label next, and a simulation that measures
whether choosing them that way beats choosing at random.

The strategies are the standard uncertainty measures on a model's probabilities (pure
functions here): ``margin`` (smallest gap between the two likeliest labels), ``entropy`` and
``least_confident``, plus ``random``. With ``diverse`` the most uncertain candidates (5 n of
them) are clustered with k-means on their features and the most uncertain of each cluster is
taken, so a batch does not spend its labels on near-copies of one statement.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

STRATEGIES = ("margin", "entropy", "least_confident", "random")


def uncertainty(proba: np.ndarray, strategy: str) -> np.ndarray:
    """Higher = more worth labelling. ``proba``: one row of label probabilities per statement."""
    proba = np.asarray(proba, dtype=float)
    if strategy == "margin":
        top = np.sort(proba, axis=1)
        return 1.0 - (top[:, -1] - top[:, -2])
    if strategy == "entropy":
        return -(proba * np.log(np.clip(proba, 1e-12, 1.0))).sum(axis=1)
    if strategy == "least_confident":
        return 1.0 - proba.max(axis=1)
    raise ValueError(f"unknown strategy {strategy!r} (one of {', '.join(STRATEGIES)})")


def select(proba: np.ndarray, n: int, strategy: str = "margin", *, features: np.ndarray | None = None,
           diverse: bool = False, seed: int = 0) -> np.ndarray:
    """Indices of the ``n`` statements to label next, most useful first."""
    count = len(proba)
    n = min(n, count)
    rng = np.random.default_rng(seed)
    if strategy == "random":
        return rng.permutation(count)[:n]
    scores = uncertainty(proba, strategy)
    order = np.lexsort((rng.random(count), -scores))  # ties broken at random, seeded
    if not diverse or features is None or n < 2:
        return order[:n]
    from sklearn.cluster import KMeans

    candidates = order[: min(count, 5 * n)]
    clusters = KMeans(n_clusters=n, n_init=3, random_state=seed).fit_predict(np.asarray(features)[candidates])
    chosen = []
    for cluster in range(n):
        members = candidates[clusters == cluster]
        if len(members):
            chosen.append(members[np.argmax(scores[members])])
    chosen = sorted(chosen, key=lambda k: -scores[k])
    rest = [k for k in order if k not in set(chosen)]
    return np.array((chosen + rest)[:n])


def simulate(features: np.ndarray, y: np.ndarray, groups: np.ndarray, testable: np.ndarray,
             strategies: Sequence[tuple[str, bool]], seeds: Sequence[int], start: int = 20, step: int = 10,
             budget: int = 300, classifier=None):
    """Pool-based simulation, leaving one article out at a time.

    For each article (``groups`` of ``testable`` statements) and seed: the other statements form
    the pool, ``start`` of them are labelled at random, then ``step`` more at a time are chosen
    by each strategy (``(name, diverse)``) up to ``budget`` labels; after each step the model is
    trained on the labelled ones and scored (macro-F1) on the held-out article. Returns rows
    ``(strategy, seed, article, labels, macro_f1)``.
    """
    from sklearn.base import clone
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score

    classifier = classifier or LogisticRegression(C=1.0, class_weight="balanced", max_iter=2000)
    labels = np.unique(y)
    rows = []
    for article in sorted(set(groups[testable])):
        test = testable & (groups == article)
        pool = np.flatnonzero(~test)
        for seed in seeds:
            first = np.random.default_rng(seed).permutation(pool)[:start]
            for name, diverse in strategies:
                labelled = list(first)
                while True:
                    model = clone(classifier)
                    if len(set(y[labelled])) < 2:
                        predicted = np.full(test.sum(), y[labelled][0])
                    else:
                        model.fit(features[labelled], y[labelled])
                        predicted = model.predict(features[test])
                    score = f1_score(y[test], predicted, labels=labels, average="macro", zero_division=0)
                    rows.append((name + ("+diverse" if diverse else ""), seed, article, len(labelled), score))
                    if len(labelled) >= min(budget, len(pool)):
                        break
                    remaining = np.setdiff1d(pool, labelled)
                    if len(set(y[labelled])) < 2:
                        proba = np.full((len(remaining), len(labels)), 1.0 / len(labels))
                    else:
                        proba = model.predict_proba(features[remaining])
                    picked = select(proba, step, name, features=features[remaining], diverse=diverse,
                                    seed=seed * 1000 + len(labelled))
                    labelled.extend(remaining[picked].tolist())
    return rows


def summarise(rows, confidence: float = 0.95):
    """Mean macro-F1 over articles per (strategy, seed, labels), then the mean over seeds with a
    t confidence interval: a DataFrame ``strategy, labels, mean, low, high, seeds``."""
    import pandas as pd
    from scipy import stats

    frame = pd.DataFrame(rows, columns=["strategy", "seed", "article", "labels", "macro_f1"])
    per_seed = frame.groupby(["strategy", "labels", "seed"], as_index=False)["macro_f1"].mean()
    out = []
    for (strategy, labels), group in per_seed.groupby(["strategy", "labels"]):
        values = group["macro_f1"].to_numpy()
        mean = float(values.mean())
        if len(values) > 1 and values.std(ddof=1) > 0:
            half = float(stats.t.ppf(0.5 + confidence / 2, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values)))
        else:
            half = 0.0
        out.append((strategy, int(labels), mean, mean - half, mean + half, len(values)))
    return pd.DataFrame(out, columns=["strategy", "labels", "mean", "low", "high", "seeds"])


def labels_saved(summary, baseline: str = "random") -> dict[str, int | None]:
    """For each strategy, how many fewer labels it needs than ``baseline`` to reach the
    baseline's final mean macro-F1 (None when it never reaches it)."""
    base = summary[summary["strategy"] == baseline].sort_values("labels")
    final_labels, final = int(base["labels"].iloc[-1]), float(base["mean"].iloc[-1])
    saved = {}
    for strategy, group in summary.groupby("strategy"):
        reached = group.sort_values("labels")
        reached = reached[reached["mean"] >= final]
        saved[strategy] = None if reached.empty else final_labels - int(reached["labels"].iloc[0])
    return saved
