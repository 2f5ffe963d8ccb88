"""Corpora and evaluation splits."""

from stance.data.loaders import load_annotations, load_corpus, load_table, load_tweeteval
from stance.data.splits import Fold, FixedSplits, GroupedKFold, StratifiedKFold, subsample

__all__ = [
    "Fold",
    "FixedSplits",
    "GroupedKFold",
    "StratifiedKFold",
    "load_annotations",
    "load_corpus",
    "load_table",
    "load_tweeteval",
    "subsample",
]
