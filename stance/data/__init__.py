"""Corpora and evaluation splits."""

from stance.data.loaders import load_annotations, load_corpus, load_table, load_tweeteval
from stance.data.splits import Fold, FixedSplits, ArticleKFold, StratifiedStatementKFold, subsample

__all__ = [
    "Fold",
    "FixedSplits",
    "ArticleKFold",
    "StratifiedStatementKFold",
    "load_annotations",
    "load_corpus",
    "load_table",
    "load_tweeteval",
    "subsample",
]
