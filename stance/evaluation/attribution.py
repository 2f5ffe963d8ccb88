"""Which words moved a prediction: occlusion for any model and exact contributions for linear
TF-IDF models (how faithful they are: :mod:`stance.evaluation.faithfulness`).

Pure math (numpy and ``re``): a model is a probability function ``proba(texts) -> (n, labels)``,
a linear model is its feature blocks with one weight per feature. Loading models, routing by
target and writing files live in :mod:`stance.serving.explanations`.

The units explained are the words of the statement: runs of letters and digits, joined by an
inner apostrophe or hyphen (``don't``, ``pro-war``); punctuation is never a unit.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

#: A word: letters/digits, with inner apostrophes or hyphens.
WORD = re.compile(r"\w+(?:['’-]\w+)*")
_WHITE_SPACES = re.compile(r"\s\s+")  # what scikit-learn's char analyzers collapse to one space

#: ``proba(texts)``: probabilities, one row per text, one column per label.
Proba = Callable[[list[str]], np.ndarray]


@dataclass(frozen=True)
class Word:
    """A word of a statement: its text and character span (``text[start:end] == token``)."""

    token: str
    start: int
    end: int


@dataclass
class Explanation:
    """Signed weights of a statement's words towards one label.

    ``weights[i]`` belongs to ``words[i]``; positive pushes towards ``label``. ``method`` is
    "occlusion" (weights in probability: how much the label's probability falls without the
    word) or "linear" (weights in decision-score units; ``rest`` holds what no word carries:
    the intercept, the target's features and character n-grams that touch no word).
    """

    label: str
    proba: np.ndarray
    words: list[Word]
    weights: np.ndarray
    method: str
    rest: float = 0.0
    labels: tuple[str, ...] = field(default=())

    def ranked(self, k: int = 0) -> list[int]:
        """Indices of the ``k`` words of largest absolute weight (0: all), largest first, ties by position."""
        order = sorted(range(len(self.words)), key=lambda i: (-abs(float(self.weights[i])), i))
        return order[:k] if k else order

    def top(self, k: int = 0) -> list[dict]:
        """The ``k`` strongest words as ``{token, start, end, weight}`` (0: all), strongest first."""
        return [{"token": self.words[i].token, "start": self.words[i].start, "end": self.words[i].end,
                 "weight": float(self.weights[i])} for i in self.ranked(k)]

    def toward(self) -> list[int]:
        """Word indices ordered from the most positive weight (most for the label) to the most negative."""
        return sorted(range(len(self.words)), key=lambda i: (-float(self.weights[i]), i))


def words(text: str) -> list[Word]:
    """The words of ``text`` with their spans (see :data:`WORD`)."""
    return [Word(m.group(), m.start(), m.end()) for m in WORD.finditer(text)]


def remove(text: str, spans: Sequence[tuple[int, int]]) -> str:
    """``text`` without the character ``spans``; each removed span takes the white space after it
    (or, at the end of the text, before it) along, so no double spaces are left behind."""
    keep = np.ones(len(text), dtype=bool)
    for start, end in spans:
        stop = end
        while stop < len(text) and text[stop].isspace():
            stop += 1
        begin = start
        if stop == end or stop == len(text):  # nothing follows: take the space before instead
            stop = end
            while begin > 0 and text[begin - 1].isspace():
                begin -= 1
        keep[begin:stop] = False
    return "".join(ch for ch, kept in zip(text, keep) if kept)


def _label_index(proba: np.ndarray, label: int | None) -> int:
    return int(np.argmax(proba)) if label is None else int(label)


# --------------------------------------------------------------------------- occlusion
def occlusion(proba: Proba, text: str, labels: Sequence[str], label: int | None = None,
              span: int = 1) -> Explanation:
    """Each word's weight: the fall in the label's probability when it is removed.

    Parameters
    ----------
    proba : callable
        ``proba(texts)``: probabilities, shape (n_texts, n_labels), columns in ``labels`` order.
        Called once, with the statement and every perturbed copy of it.
    text : str
        The statement.
    labels : sequence of str
        The label names of ``proba``'s columns.
    label : int or None, default=None
        The column explained; None: the predicted one (the largest probability of ``text``).
    span : int, default=1
        Remove this many consecutive words at a time (from the first word of the window to the
        end of the last one); a word's weight is then the mean fall over the windows covering it.

    Returns
    -------
    Explanation
        ``weights[i] = p(label | text) - p(label | text without word i)``, in probability.
    """
    found = words(text)
    span = max(1, min(int(span), len(found) or 1))
    windows = [(k, k + span) for k in range(max(len(found) - span + 1, 0))]
    texts = [text] + [remove(text, [(found[a].start, found[b - 1].end)]) for a, b in windows]
    scores = np.asarray(proba(texts), dtype=np.float64)
    c = _label_index(scores[0], label)
    drops = scores[0, c] - scores[1:, c]
    weights, covered = np.zeros(len(found)), np.zeros(len(found))
    for (a, b), drop in zip(windows, drops):
        weights[a:b] += drop
        covered[a:b] += 1
    weights = np.divide(weights, covered, out=np.zeros_like(weights), where=covered > 0)
    return Explanation(labels[c], scores[0], found, weights, "occlusion", labels=tuple(labels))


# --------------------------------------------------------------------------- linear TF-IDF
@dataclass
class Block:
    """One feature block of a linear model and the weight each of its features puts on the label.

    ``kind`` "tfidf" reads ``text`` with the settings of scikit-learn's ``TfidfVectorizer``
    (``analyzer``: "word", "char_wb" or "char"; ``ngram_range``, ``lowercase``, ``token_pattern``,
    ``sublinear_tf``, ``norm``, ``use_idf``, ``vocabulary``) and ``idf``; "onehot" is one
    category column (``categories``) read from ``value`` (e.g. the target).
    """

    kind: str
    settings: dict
    weights: np.ndarray
    idf: np.ndarray | None = None
    value: str | None = None


@dataclass
class _Gram:
    """One occurrence of an n-gram: the pieces of the text it is made of (word n-grams: its words)."""

    term: str
    pieces: list[tuple[int, int]]


def _lowered(text: str, lowercase: bool) -> tuple[str, list[int]]:
    """The text as the vectorizer sees it, and for each of its characters the original position."""
    if not lowercase:
        return text, list(range(len(text)))
    low = text.lower()
    if len(low) == len(text):
        return low, list(range(len(text)))
    chars, where = [], []  # a character that lowers to several (e.g. 'İ'): map each back to it
    for k, ch in enumerate(text):
        lowered = ch.lower()
        chars.append(lowered)
        where.extend([k] * len(lowered))
    return "".join(chars), where


def _word_grams(text: str, settings: dict) -> list[_Gram]:
    pattern = re.compile(settings["token_pattern"])
    group = 1 if pattern.groups == 1 else 0
    tokens = [(m.group(group), m.span(group)) for m in pattern.finditer(text)]
    low, high = settings["ngram_range"]
    grams = [_Gram(t, [s]) for t, s in tokens] if low == 1 else []
    for n in range(max(low, 2), min(high, len(tokens)) + 1):
        for i in range(len(tokens) - n + 1):
            window = tokens[i : i + n]
            grams.append(_Gram(" ".join(t for t, _ in window), [s for _, s in window]))
    return grams


def _char_wb_grams(text: str, settings: dict) -> list[_Gram]:
    low, high = settings["ngram_range"]
    grams = []
    for chunk in re.finditer(r"\S+", text):  # the words split() gives after collapsing white space
        padded, origin = f" {chunk.group()} ", chunk.start() - 1
        for n in range(low, high + 1):
            offset = 0
            while True:
                start, end = origin + offset, origin + offset + n
                grams.append(_Gram(padded[offset : offset + n], [(max(start, chunk.start()), min(end, chunk.end()))]))
                if offset + n >= len(padded):
                    break
                offset += 1
            if offset == 0:  # a short word counts once (as scikit-learn does)
                break
    return grams


def _char_grams(text: str, settings: dict) -> list[_Gram]:
    low, high = settings["ngram_range"]
    collapsed, where, last = [], [], 0
    for m in _WHITE_SPACES.finditer(text):
        collapsed.append(text[last : m.start()] + " ")
        where.extend(range(last, m.start() + 1))
        last = m.end()
    collapsed.append(text[last:])
    where.extend(range(last, len(text)))
    flat = "".join(collapsed)
    return [_Gram(flat[i : i + n], [(where[i], where[i + n - 1] + 1)])
            for n in range(low, min(high, len(flat)) + 1) for i in range(len(flat) - n + 1)]


GRAMS = {"word": _word_grams, "char_wb": _char_wb_grams, "char": _char_grams}


def ngrams(text: str, settings: dict) -> list[tuple[str, list[tuple[int, int]]]]:
    """Every n-gram occurrence a ``TfidfVectorizer`` with ``settings`` reads in ``text``, in
    its order, with the spans in ``text`` of the pieces it is made of (word n-grams: one span
    per word; character n-grams: one span, the padding space of ``char_wb`` left out)."""
    lowered, where = _lowered(text, settings.get("lowercase", True))

    def original(a: int, b: int) -> tuple[int, int]:
        return (where[a], where[b - 1] + 1) if b > a else (0, 0)  # an empty piece (padding only) is no word's

    return [(gram.term, [original(a, b) for a, b in gram.pieces])
            for gram in GRAMS[settings["analyzer"]](lowered, settings)]


def tfidf_values(grams: list[tuple[str, list]], settings: dict, idf: np.ndarray) -> dict[int, float]:
    """Feature index -> tf-idf value of one text, as ``TfidfVectorizer.transform`` computes it."""
    vocabulary = settings["vocabulary"]
    counts: dict[int, int] = {}
    for term, _ in grams:
        index = vocabulary.get(term)
        if index is not None:
            counts[index] = counts.get(index, 0) + 1
    index = np.fromiter(counts, dtype=np.int64, count=len(counts))
    tf = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
    if settings.get("sublinear_tf"):
        tf = np.log(tf) + 1.0
    values = tf * idf[index] if settings.get("use_idf", True) else tf
    norm = float(np.sqrt(values @ values))
    if settings.get("norm", "l2") == "l2" and norm > 0:
        values = values / norm
    return dict(zip(index.tolist(), values.tolist()))


def _spread(amount: float, pieces: list[tuple[int, int]], units: list[Word], into: np.ndarray) -> float:
    """Share ``amount`` equally among ``pieces``, each piece over the words it overlaps (by
    characters); returns what falls on no word."""
    lost = 0.0
    share = amount / len(pieces)
    for start, end in pieces:
        overlaps = [(i, min(end, w.end) - max(start, w.start)) for i, w in enumerate(units)
                    if w.start < end and start < w.end]
        total = sum(size for _, size in overlaps)
        if total <= 0:
            lost += share
            continue
        for i, size in overlaps:
            into[i] += share * size / total
    return lost


def linear(text: str, blocks: Sequence[Block], labels: Sequence[str], label: int, proba: np.ndarray | None = None,
           base: float = 0.0) -> Explanation:
    """Exact contributions of a linear model over TF-IDF features, mapped onto words.

    Each feature's contribution is its value for ``text`` times its weight (``Block.weights``:
    e.g. the coefficient of the label minus the mean coefficient over labels). A feature occurring
    several times splits its contribution equally among its occurrences; a word n-gram shares its
    occurrence equally among its words, a character n-gram among the words it overlaps, by characters.

    Parameters
    ----------
    text : str
        The statement.
    blocks : sequence of Block
        The model's feature blocks with their weights.
    labels : sequence of str
        The label names; ``label`` indexes them.
    label : int
        The label explained.
    proba : ndarray or None, default=None
        The model's probabilities for ``text`` (kept in the explanation; not used for the weights).
    base : float, default=0.0
        The part of the score no feature carries (the intercept's).

    Returns
    -------
    Explanation
        ``weights`` per word and ``rest`` (``base``, one-hot blocks, n-grams touching no word) with
        ``weights.sum() + rest`` equal to the model's score of the label (``base`` plus every
        feature value times its weight).
    """
    found = words(text)
    weights, rest = np.zeros(len(found)), float(base)
    for block in blocks:
        if block.kind == "onehot":
            categories = list(block.settings["categories"])
            if block.value in categories:
                rest += float(block.weights[categories.index(block.value)])
            continue
        if block.kind != "tfidf":
            raise ValueError(f"a {block.kind!r} block has no exact linear contributions")
        grams = ngrams(text, block.settings)
        values = tfidf_values(grams, block.settings, block.idf)
        occurrences: dict[int, list[list]] = {}
        for term, pieces in grams:
            index = block.settings["vocabulary"].get(term)
            if index is not None:
                occurrences.setdefault(index, []).append(pieces)
        for index, value in values.items():
            amount = value * float(block.weights[index])
            for pieces in occurrences[index]:
                rest += _spread(amount / len(occurrences[index]), pieces, found, weights)
    proba = np.zeros(len(labels)) if proba is None else np.asarray(proba, dtype=np.float64)
    return Explanation(labels[label], proba, found, weights, "linear", rest, tuple(labels))


def describe(explanation: Explanation, k: int = 5, digits: int = 3) -> str:
    """The ``k`` strongest words as one line: ``troops +0.213, never -0.104`` (words whose weight
    rounds to 0 left out)."""
    return ", ".join(f"{w['token']} {w['weight']:+.{digits}f}" for w in explanation.top(k)
                     if round(w["weight"], digits) != 0)


# --------------------------------------------------------------------------- a run's errors
def explain_errors(estimator, rows: dict, limit: int, k: int = 5) -> dict[str, str]:
    """The strongest words (by occlusion, signed towards the wrong label) of a fold's misclassified
    statements, explained with the fold's own model: the one that made the error.

    Parameters
    ----------
    estimator : StanceClassifier
        The fold's fitted model (``predict_proba`` on a DataFrame with ``text`` and ``target``).
    rows : dict of str to list
        The fold's out-of-fold rows: ``id``, ``text``, ``target``, ``gold``, ``predicted``, ``confidence``.
    limit : int
        Explain at most this many, most confident first (0: none).
    k : int, default=5
        Words per statement.

    Returns
    -------
    dict of str to str
        Statement id -> its ``k`` strongest words as one line (:func:`describe`).
    """
    if limit <= 0:
        return {}
    import pandas as pd

    from stance.labels import LABELS
    from stance.scores import in_label_order

    ids, texts, targets = list(rows["id"]), list(rows["text"]), list(rows["target"])
    wrong = [i for i, (g, p) in enumerate(zip(rows["gold"], rows["predicted"])) if g != p]
    wrong.sort(key=lambda i: (-float(rows["confidence"][i]), str(ids[i])))
    out = {}
    for i in wrong[:limit]:
        def proba(batch, target=targets[i]):
            frame = pd.DataFrame({"text": batch, "target": [target] * len(batch)})
            return in_label_order(estimator.predict_proba(frame), estimator.classes_, LABELS)

        explained = occlusion(proba, texts[i], LABELS, label=LABELS.index(rows["predicted"][i]))
        out[str(ids[i])] = describe(explained, k)
    return out
