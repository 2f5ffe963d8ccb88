"""Near-duplicate statements: the same quote or sentence printed in two articles.

Two texts are near-duplicates when most of the word trigrams of the shorter one occur in
the longer one (*containment*, not Jaccard similarity: a quote reprinted inside a longer
sentence is still the same quote). Texts are compared after case folding, unifying quote
characters and dropping punctuation.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence

_WORD = re.compile(r"\w+", re.UNICODE)

#: Default containment above which two statements are near-duplicates.
DEFAULT_THRESHOLD = 0.5
#: Word n-gram size for shingles.
SHINGLE_SIZE = 3


def shingles(text: str, size: int = SHINGLE_SIZE) -> frozenset[tuple[str, ...]]:
    """Word n-grams of a normalised text (the whole word tuple when it is shorter than n)."""
    words = _WORD.findall(text.casefold().replace("’", "'"))
    if len(words) < size:
        return frozenset([tuple(words)]) if words else frozenset()
    return frozenset(tuple(words[i : i + size]) for i in range(len(words) - size + 1))


def containment(a: frozenset, b: frozenset) -> float:
    """Share of the smaller shingle set found in the larger one (0 for empty sets)."""
    if not a or not b:
        return 0.0
    return len(a & b) / min(len(a), len(b))


def near_duplicate_pairs(texts: Sequence[str], threshold: float = DEFAULT_THRESHOLD) -> list[tuple[int, int, float]]:
    """All pairs ``(i, j, containment)`` with ``i < j`` at or above ``threshold``.

    Candidate pairs come from an inverted index over shingles, so that only texts sharing
    at least one trigram are compared.
    """
    sets = [shingles(t) for t in texts]
    index: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for i, s in enumerate(sets):
        for shingle in s:
            index[shingle].append(i)
    candidates: set[tuple[int, int]] = set()
    for members in index.values():
        for x in range(len(members)):
            for y in range(x + 1, len(members)):
                candidates.add((members[x], members[y]))
    pairs = []
    for i, j in sorted(candidates):
        score = containment(sets[i], sets[j])
        if score >= threshold:
            pairs.append((i, j, score))
    return pairs


def merge_groups(groups: Sequence[str], texts: Sequence[str], threshold: float = DEFAULT_THRESHOLD) -> list[str]:
    """Groups joined wherever a near-duplicate pair crosses them (union-find).

    The result gives each statement the name of its merged group: the sorted member group
    names joined by ``+``, e.g. ``"001+002"`` when the two articles share a quote.
    """
    names = sorted(set(groups))
    parent = {g: g for g in names}

    def find(g: str) -> str:
        while parent[g] != g:
            parent[g] = parent[parent[g]]
            g = parent[g]
        return g

    for i, j, _ in near_duplicate_pairs(texts, threshold):
        a, b = find(groups[i]), find(groups[j])
        if a != b:
            parent[max(a, b)] = min(a, b)
    members: dict[str, list[str]] = defaultdict(list)
    for g in names:
        members[find(g)].append(g)
    label = {g: "+".join(members[find(g)]) for g in names}
    return [label[g] for g in groups]
