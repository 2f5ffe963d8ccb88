"""Evaluation splits over a ``DatasetDict``: fixed splits, stratified k-fold, grouped k-fold.

Each splitter keeps parameters in ``__init__`` and returns a list of :class:`Fold` from
``split(dataset_dict)``. The k-fold splitters pool every split of the corpus first (a
corpus without fixed splits has only ``train``). Index arrays refer to the pooled dataset.

Statements the project wrote (``origin == "written"``) are never tested on: the k-fold
splitters fold the other statements and add every written one to each training fold;
fixed splits drop them from the test and validation splits.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from stance.data.dedup import DEFAULT_THRESHOLD, merge_groups
from stance.errors import StanceError


@dataclass
class Fold:
    """One train/test partition. ``validation`` is set only where the corpus fixes one."""

    name: str
    train: object  # datasets.Dataset
    test: object
    validation: object | None = None
    meta: dict = field(default_factory=dict)


def is_written(dataset) -> np.ndarray:
    """A boolean mask of the statements the project wrote (training only)."""
    from stance.data.loaders import WRITTEN

    if "origin" not in dataset.column_names:
        return np.zeros(len(dataset), dtype=bool)
    return np.asarray(dataset["origin"]) == WRITTEN


def _evaluable_folds(data, fold_indices):
    """Folds over the statements that may be tested on; the written ones join every training side.

    ``fold_indices(subset)`` returns ``(name, train, test)`` index triples into ``subset``.
    """
    written = is_written(data)
    real, extra = np.flatnonzero(~written), np.flatnonzero(written)
    subset = data.select(real) if extra.size else data
    folds = []
    for name, tr, te in fold_indices(subset):
        train = np.concatenate([real[tr], extra]) if extra.size else tr
        test = real[te] if extra.size else te
        folds.append((name, train, test))
    return folds


def pooled(dataset_dict):
    """All splits of a DatasetDict concatenated, in split order."""
    from datasets import concatenate_datasets

    return concatenate_datasets([dataset_dict[name] for name in dataset_dict])


class FixedSplits:
    """The corpus's own splits: train on ``train``, select on ``validation``, report on ``test``."""

    def __init__(self, train: str = "train", test: str = "test", validation: str | None = "validation"):
        self.train = train
        self.test = test
        self.validation = validation

    def split(self, dataset_dict) -> list[Fold]:
        for name in (self.train, self.test):
            if name not in dataset_dict:
                raise StanceError(f"the corpus has no '{name}' split (splits: {', '.join(dataset_dict)}); "
                                  "use a k-fold evaluation instead")
        validation = dataset_dict[self.validation] if self.validation in dataset_dict else None
        test = dataset_dict[self.test]
        test = test.select(np.flatnonzero(~is_written(test)))
        if validation is not None:
            validation = validation.select(np.flatnonzero(~is_written(validation)))
        return [Fold(self.test, dataset_dict[self.train], test, validation)]


class StratifiedStatementKFold:
    """Stratified k-fold over the pooled corpus (scikit-learn's, shuffled with ``seed``)."""

    def __init__(self, n_splits: int = 5, seed: int = 0):
        self.n_splits = n_splits
        self.seed = seed

    def indices(self, labels) -> list[tuple[np.ndarray, np.ndarray]]:
        from sklearn.model_selection import StratifiedKFold as _SKFold

        labels = np.asarray(labels)
        smallest = np.bincount(labels).min(initial=0) if labels.size else 0
        if smallest < self.n_splits:
            counts = np.bincount(labels)
            smallest = counts[counts > 0].min()
        if self.n_splits < 2 or smallest < self.n_splits:
            raise StanceError(f"stratified {self.n_splits}-fold needs at least {self.n_splits} statements of every "
                              f"label; the rarest has {smallest}")
        splitter = _SKFold(n_splits=self.n_splits, shuffle=True, random_state=self.seed)
        return list(splitter.split(np.zeros(len(labels)), labels))

    def split(self, dataset_dict) -> list[Fold]:
        data = pooled(dataset_dict)
        folds = _evaluable_folds(data, lambda d: [(f"fold{k}", tr, te)
                                                  for k, (tr, te) in enumerate(self.indices(d["label"]))])
        return [Fold(name, data.select(tr), data.select(te)) for name, tr, te in folds]


class ArticleKFold:
    """Grouped k-fold by source document, with near-duplicates kept in the same fold.

    Documents that share a near-duplicate statement (the same quote printed in two
    articles) are merged into one group first, so that no quote is on both sides of a
    split. ``n_splits=None`` (the default) leaves one merged group out per fold; otherwise
    scikit-learn's StratifiedGroupKFold balances labels across ``n_splits`` folds.
    """

    def __init__(self, n_splits: int | None = None, seed: int = 0, near_duplicate_threshold: float = DEFAULT_THRESHOLD):
        self.n_splits = n_splits
        self.seed = seed
        self.near_duplicate_threshold = near_duplicate_threshold

    def merged_groups(self, groups, texts) -> list[str]:
        return merge_groups(list(groups), list(texts), self.near_duplicate_threshold)

    def indices(self, groups, texts, labels) -> list[tuple[str, np.ndarray, np.ndarray]]:
        """``(held-out group name, train indices, test indices)`` for each fold."""
        merged = np.asarray(self.merged_groups(groups, texts))
        names = sorted(set(merged.tolist()))
        if len(names) < 2:
            raise StanceError(f"grouped k-fold needs at least 2 groups after merging near-duplicates; got {names}")
        if self.n_splits is None or self.n_splits >= len(names):
            folds = [(name, np.flatnonzero(merged != name), np.flatnonzero(merged == name)) for name in names]
        else:
            from sklearn.model_selection import StratifiedGroupKFold

            splitter = StratifiedGroupKFold(n_splits=self.n_splits, shuffle=True, random_state=self.seed)
            folds = [
                ("+".join(sorted(set(merged[te].tolist()))), tr, te)
                for tr, te in splitter.split(np.zeros(len(merged)), np.asarray(labels), merged)
            ]
        return folds

    def split(self, dataset_dict) -> list[Fold]:
        data = pooled(dataset_dict)
        folds = _evaluable_folds(data, lambda d: self.indices(d["group"], d["text"], d["label"]))
        return [Fold(name, data.select(tr), data.select(te), meta={"held_out_groups": name}) for name, tr, te in folds]


def subsample(dataset, fraction: float, seed: int = 0):
    """A stratified, seeded share of ``dataset``'s rows (for learning curves).

    Each label keeps ``round(fraction * count)`` statements, at least one; rows keep their
    order. ``fraction`` 1 returns the dataset unchanged.
    """
    if not 0 < fraction <= 1:
        raise StanceError(f"eval.train_fraction must be in (0, 1], got {fraction}")
    if fraction == 1:
        return dataset
    rng = np.random.default_rng(seed)
    labels = np.asarray(dataset["label"])
    keep = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        count = max(1, int(round(fraction * len(members))))
        keep.extend(rng.permutation(members)[:count].tolist())
    return dataset.select(sorted(keep))
