"""Comparing predicted holders with gold ones: the matching rule (:func:`matches`) and the
accuracy with a bootstrap interval (:func:`accuracy`) that ``benchmarks/holders.py`` reports."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from stance.annotation.holder_words import (
    ALIASES,
    DET,
    MODIFIERS,
    ORG_HEADS,
    ROLE_NOUNS,
    TITLES,
)

_W = str.split
#: Demonyms read as their country when holders are compared ("Polish government" names Poland).
_DEMONYM_COUNTRY = {d: c for c, ds in (
    ("russia", "russian"), ("ukraine", "ukrainian"), ("france", "french franco"), ("germany", "german"),
    ("uk", "british britain anglo"), ("united states", "american us u.s usa"), ("poland", "polish"),
    ("italy", "italian"), ("spain", "spanish"), ("netherlands", "dutch"), ("belgium", "belgian"),
    ("sweden", "swedish"), ("finland", "finnish"), ("estonia", "estonian"), ("latvia", "latvian"),
    ("lithuania", "lithuanian"), ("czechia", "czech"), ("slovakia", "slovak"), ("hungary", "hungarian"),
    ("romania", "romanian"), ("bulgaria", "bulgarian"), ("turkey", "turkish"), ("china", "chinese"),
    ("japan", "japanese"), ("canada", "canadian"), ("australia", "australian"), ("norway", "norwegian"),
    ("denmark", "danish"), ("belarus", "belarusian"), ("greece", "greek"), ("austria", "austrian"),
    ("switzerland", "swiss"), ("ireland", "irish"), ("portugal", "portuguese"), ("croatia", "croatian"),
    ("georgia", "georgian"), ("moldova", "moldovan"), ("iran", "iranian"), ("india", "indian"))
    for d in ds.split()}
#: Words that describe a holder but do not name it: titles, roles, generic institutions.
_GENERIC = (TITLES | ROLE_NOUNS | DET | MODIFIERS
            | {w for w in ORG_HEADS if w not in {"kremlin", "nato", "eu", "un", "pentagon"}}
            | set(_W("and of the for in on at to with 's government governments state states planners planner "
                     "defence defense foreign ministry office spokesman spokesperson authors author")))


def name_tokens(holder: str) -> set[str]:
    """The words of a holder that name someone: lower case, accents and possessives dropped, a
    description in parentheses dropped, demonyms read as their country, titles and roles dropped."""
    text = unicodedata.normalize("NFKD", re.sub(r"\([^)]*\)", " ", holder)).encode("ascii", "ignore").decode()
    words = re.findall(r"\w+(?:[.'-]\w+)*", text.lower().replace("’", "'"))
    words = [w.removesuffix("'s") for w in words]
    return {ALIASES.get(w, _DEMONYM_COUNTRY.get(w, w)).lower() for w in words} - _GENERIC


def matches(predicted: str, gold: str) -> bool:
    """Whether a predicted holder matches the gold one.

    The rule: ``author`` matches only ``author``; otherwise the two match when they are equal
    ignoring case and spacing, or when they share a word that names someone (:func:`name_tokens`):
    gold "John Healey (UK Defence Secretary)" and predicted "Healey" share "healey"; "Polish
    government" and "Poland" share "poland"; "senior EU official" and "EU officials" share "eu".
    Two roles that name no one match when their head nouns agree ("retired general" and
    "general"); "government officials" and "diplomats" do not match.
    """
    p, g = " ".join(predicted.lower().split()), " ".join(gold.lower().split())
    if "author" in (p, g):
        return p == g
    names_p, names_g = name_tokens(predicted), name_tokens(gold)
    if p == g or names_p & names_g:
        return True
    return not names_p and not names_g and _head(p) == _head(g)


def _head(holder: str) -> str:
    """A role's head noun, singular: "retired generals" -> "general"."""
    words = re.sub(r"\([^)]*\)", " ", holder).split()
    last = words[-1] if words else ""
    return last[:-1] if last.endswith("s") and not last.endswith("ss") else last


def accuracy(predicted: Sequence[str], gold: Sequence[str], groups: Sequence[str] | None = None,
             n_resamples: int = 1000, confidence: float = 0.95, seed: int = 0) -> tuple[float, float, float]:
    """The share of predicted holders that match the gold ones (:func:`matches`), with a bootstrap CI.

    Parameters
    ----------
    predicted, gold : sequence of str
        Holders, one per statement, in the same order.
    groups : sequence of str or None, default=None
        A group per statement (its article or page): the bootstrap then resamples whole groups,
        since statements of one article share their holders. None resamples statements.
    n_resamples : int, default=1000
    confidence : float, default=0.95
    seed : int, default=0
        The seed of the resampling.

    Returns
    -------
    tuple of float
        The accuracy and the low and high ends of its percentile bootstrap interval (NaN for no statements).
    """
    import numpy as np

    if len(predicted) != len(gold):
        raise ValueError(f"{len(predicted)} predicted holders for {len(gold)} gold ones")
    if not gold:
        return float("nan"), float("nan"), float("nan")
    hits = np.array([matches(p, g) for p, g in zip(predicted, gold)], dtype=float)
    names, members = np.unique(np.asarray(list(groups) if groups is not None else range(len(gold))),
                               return_inverse=True)
    sums, sizes = np.bincount(members, hits, len(names)), np.bincount(members, minlength=len(names))
    draws = np.random.default_rng(seed).integers(0, len(names), size=(n_resamples, len(names)))
    values = sums[draws].sum(axis=1) / sizes[draws].sum(axis=1)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(hits.mean()), float(low), float(high)


