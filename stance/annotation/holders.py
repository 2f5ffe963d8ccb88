"""Who holds the stance of a statement: rule-based holder attribution, and its accuracy.

The label spec's holder is "the person, government or organisation whose position the
statement expresses or reports", and the article's **author** when no one is reported.
:func:`attribute` finds it from cues in the sentence, strongest first:

1. reported speech: ``according to X``; ``X said`` / ``X told reporters`` (also ``X, the foreign
   minister, said``, ``X has previously said``); ``..., said X`` after a quote;
2. a stance verb with its subject: ``X opposes`` / ``rejected`` / ``is ready to`` / ``would send`` ...;
3. a possessive stance: ``X's opposition`` / ``proposal`` / ``position`` ...;
4. in a headline in title case: its first words when they name a country or institution.

Quoted words are never cues. ``X`` is a name (titles stripped: "Kremlin spokesman Dmitry
Peskov" is ``Dmitry Peskov``, kind ``named``), an institution or country (``organisation``;
Moscow is written Russia, as the guidelines do), a role ("a senior EU official", "one of the
party's MPs", "government officials": ``role``) or a pronoun ("..., he said"), which is resolved
to the holder of the nearest earlier sentence of the ``context`` that names one of a fitting
kind; a sentence that is a quote with no cue continues the previous sentence's speaker. No
other cue: the holder is ``author``.

:mod:`stance.annotation.holder_match` compares predicted holders with gold ones;
``benchmarks/holders.py`` measures both on the gold files and the dev set.
:func:`holders` is the earlier pattern heuristic, kept as the baseline it is measured against.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from stance.annotation import holder_words as hw


@dataclass(frozen=True)
class Attribution:
    """Who holds a statement's stance.

    Attributes
    ----------
    holder : str
        The holder ("Dmitry Peskov", "Kremlin", "senior EU official"), ``author`` when none is
        reported, or the pronoun itself (kind ``pronoun``) when one could not be resolved.
    kind : {"named", "role", "organisation", "author", "pronoun"}
    start, end : int or None
        The character span of the cue in the statement (holder mention and verb); None for ``author``.
    cue : str
        "speech", "according to", "stance", "possessive", "headline", "quote" (a quote continuing
        the context's speaker) or "" (author).
    others : tuple of str
        Further holders named in the same statement.
    """

    holder: str
    kind: str
    start: int | None = None
    end: int | None = None
    cue: str = ""
    others: tuple[str, ...] = ()


AUTHOR = Attribution("author", "author")


@dataclass
class _Tok:
    text: str
    start: int
    end: int
    quoted: bool

    @property
    def low(self) -> str:
        return self.text.lower()

    @property
    def cap(self) -> bool:
        return self.text[:1].isupper()


def _tokens(text: str) -> list[_Tok]:
    tokens, depth, straight = [], 0, False
    # a markdown link "[reiterated](#)" reads as its words (same length: offsets stay valid)
    text = hw.LINK.sub(lambda m: " " + m.group(1) + " " * (len(m.group()) - len(m.group(1)) - 1), text)
    found = list(hw.TOKEN.finditer(text))
    opens = sum(m.group() in "“«" for m in found)
    closes = sum(m.group() in "”»" for m in found)
    depth = 1 if closes > opens else 0  # a quote opened in an earlier sentence
    for m in found:
        word = m.group()
        if word in hw.QUOTES:
            if hw.QUOTES[word] == 0:
                straight = not straight
            else:
                depth = max(0, depth + hw.QUOTES[word])
            tokens.append(_Tok(word, m.start(), m.end(), True))
        else:
            tokens.append(_Tok(word, m.start(), m.end(), depth > 0 or straight))
    if straight:  # an unmatched straight quote quotes nothing
        tokens = [_Tok(t.text, t.start, t.end, t.text in hw.QUOTES) for t in tokens]
    return tokens


def _is_name(tok: _Tok) -> bool:
    return tok.cap and tok.text[0].isalpha() and not tok.quoted


# --------------------------------------------------------------------------- noun phrases
def _back_np(toks: list[_Tok], j: int) -> tuple[int, int] | None:
    """The noun phrase ending at token ``j`` (inclusive), as a token range, or None."""
    if j < 0 or toks[j].quoted or toks[j].low in hw.DET | hw.POSTMOD | {"to", "on"}:
        return None
    if toks[j].low in hw.PRONOUNS and (j == 0 or not toks[j - 1].text[:1].isalnum() or toks[j - 1].low in hw.LEAD):
        return j, j + 1
    if _is_name(toks[j]) and toks[j].low not in hw.ROLE_NOUNS | {"mps", "mp"}:
        i = j
        while i > 0 and not toks[i - 1].quoted and (
                _is_name(toks[i - 1]) or (toks[i - 1].low in {"of", "de", "von", "van", "der", "al", "bin", "and", "la", "for"}
                                          and i > 1 and _is_name(toks[i - 2]))):
            i -= 1
        while i <= j and (toks[i].low in hw.LEAD or toks[i].text in hw.DAYS):
            i += 1
        while j >= i and toks[j].text in hw.DAYS:
            j -= 1
        if i > j:
            return None
        # "Russia's ambassador to the United Nations": the role, not the place
        k = i - 2 if i >= 2 and toks[i - 1].low == "the" else i - 1
        if k >= 1 and toks[k].low in hw.POSTMOD | {"to", "on"} and (role := _role(toks, k - 1, j)):
            return role
        return i, j + 1
    return _role(toks, j, j)


def _role(toks: list[_Tok], r0: int, j: int) -> tuple[int, int] | None:
    """A role ending at token ``j`` whose head noun is at or before ``r0``: "a senior EU official",
    "one of the party's MPs", "a source familiar with Kremlin thinking", "the head of the committee"."""
    for r in range(r0, max(-1, r0 - 7), -1):
        head = toks[r].low in hw.ROLE_NOUNS or (toks[r].low in hw.ORG_HEADS and not toks[r].cap)
        if head and (r == j or toks[r + 1].low in hw.POSTMOD | {"to", "on", "involved"}):
            i = r
            while i > 0 and r - i < 6 and not toks[i - 1].quoted and _modifier(toks[i - 1]):
                i -= 1
                if toks[i].low in hw.DET and not (i > 0 and toks[i - 1].low == "of"):
                    break
            return i, j + 1
        if not (toks[r].text[:1].isalnum() or toks[r].text in "’'-") or toks[r].low in hw.SPEECH | hw.SKIP:
            break
    return None


def _modifier(tok: _Tok) -> bool:
    """A word that can stand before a role noun: a name, a determiner, an adjective ("senior", "Kremlin", "party's")."""
    low = tok.low
    return tok.text[:1].isalnum() and low not in hw.SPEECH | hw.STANCE | hw.SKIP and (
        tok.cap or low in hw.DET | hw.MODIFIERS | hw.TITLES | hw.ROLE_NOUNS | hw.ORG_HEADS or low.endswith(("'s", "’s"))
        or (low.endswith(hw.ADJ_ENDINGS) and low not in hw.ROLE_NOUNS))


def _forward_np(toks: list[_Tok], i: int) -> tuple[int, int] | None:
    """The noun phrase starting at token ``i`` ("the Finnish defence ministry", "Dmitry Peskov")."""
    while i < len(toks) and toks[i].low in {"the", "a", "an"}:
        i += 1
    if i >= len(toks) or toks[i].quoted or not toks[i].text[:1].isalnum():
        return None
    if toks[i].low in hw.PRONOUNS:
        return i, i + 1
    stops = {"that", "who", "which", "as", "when", "on", "in", "while", "after", "before", "during", "because",
             "but", "to", "is", "was", "has", "had", "and", "who's", "last", "this", "earlier", "adding"}
    j = i
    while j < len(toks) and j - i < 8 and toks[j].text[:1].isalnum() and not toks[j].quoted \
            and toks[j].low not in stops | hw.SPEECH | hw.SKIP and toks[j].text not in hw.DAYS:
        j += 1
    if toks[j - 1:j] and toks[j - 1].low in {"of", "with", "to", "for"}:
        j -= 1
    return (i, j) if j > i else None


def _classify(words: list[str]) -> tuple[str, str]:
    """A noun phrase's holder and kind: titles stripped from names, places written as their country."""
    words = [w[:-2] if w.endswith(("'s", "’s")) and k == len(words) - 1 else w for k, w in enumerate(words)]
    while words and words[0].lower() in {"the", "a", "an"}:
        words = words[1:]
    phrase = " ".join(words)
    low = [w.lower() for w in words]
    if not words:
        return "", "author"
    if len(words) == 1 and low[0] in hw.PRONOUNS:
        return low[0], "pronoun"
    if phrase.lower() in hw.ALIASES:
        return hw.ALIASES[phrase.lower()], "organisation"
    parts = phrase.split(" and ")
    if len(parts) > 1 and all(p.lower() in hw.ALIASES or p in hw.COUNTRIES for p in parts):  # "Paris and London"
        return " and ".join(hw.ALIASES.get(p.lower(), p) for p in parts), "organisation"
    if not words[0][:1].isupper() or low[0] in hw.DET | hw.ROLE_NOUNS:
        org = {low[0], low[-1]} & hw.ORG_HEADS and low[-1] not in hw.ROLE_NOUNS
        return phrase, "organisation" if org else "role"
    if phrase.lower() in hw.ORG_PHRASES or (any(w in hw.ORG_HEADS for w in low) and low[-1] not in hw.ROLE_NOUNS):
        return phrase, "organisation"
    if low[-1] in hw.ROLE_NOUNS:
        return phrase, "role"
    if len(words) == 1 and (words[0] in hw.COUNTRIES or (words[0].isupper() and len(words[0]) > 1)):
        return words[0], "organisation"
    k = 0
    while k < len(words) - 1 and (low[k] in hw.TITLES or low[k] in hw.DEMONYMS or low[k].endswith(("'s", "’s"))):
        k += 1
    if k and not any(w in hw.TITLES for w in low[:k]):
        k = 0  # "French Foreign ..." strips; "Nordic States" keeps its words
    if len(words) - k == 1 and words[k] in hw.COUNTRIES:
        return hw.ALIASES.get(words[k].lower(), words[k]), "organisation"
    return " ".join(words[k:]), "named"


# --------------------------------------------------------------------------- cues
def _subject(toks: list[_Tok], v: int) -> tuple[int, int] | None:
    """The subject of the verb at token ``v``: skip auxiliaries, adverbs, "on Tuesday" and an appositive."""
    j = v - 1
    while j >= 0 and not toks[j].quoted and (toks[j].low in hw.SKIP or toks[j].text in hw.DAYS or (
            toks[j].low.endswith("ly") and not toks[j].cap and toks[j].low not in hw.ROLE_NOUNS)
            or (toks[j].low == "on" and j + 1 < v and toks[j + 1].text in hw.DAYS)):
        j -= 1
    if j >= 1 and toks[j].text == "," and not toks[j].quoted:  # "Lavrov, the foreign minister, said"
        for k in range(j - 1, max(-1, j - 26), -1):
            if toks[k].quoted:
                break
            if toks[k].text == ",":
                inner = _back_np(toks, j - 1)  # "Russia's ambassador, Andrei Kelin, warned": the name
                if inner and inner[0] == k + 1 and _is_name(toks[inner[0]]):
                    return inner
                found = _back_np(toks, k - 1)
                return found if found and toks[found[0]].low not in hw.PRONOUNS else None
        return None
    if j >= 1 and toks[j].low == "to" and toks[v].low in hw.STANCE:  # a headline: "UK to deploy troops"
        found = _back_np(toks, j - 1)
        return found if found and found[0] == 0 else None
    return _back_np(toks, j)


def _main_subject(toks: list[_Tok]) -> tuple[int, int] | None:
    """The subject at the head of the main clause, after a leading adverbial ("On Monday, ...")."""
    starts = [0]
    if toks and (toks[0].low in hw.LEAD or toks[0].low.endswith("ing") or toks[0].low in {"when", "asked"}):
        starts = [k + 1 for k, t in enumerate(toks[:20]) if t.text == "," and not t.quoted][:1]
    for i in starts:
        j = i
        while j < len(toks) and not toks[j].quoted and (_is_name(toks[j]) or toks[j].low in hw.ROLE_NOUNS | hw.MODIFIERS or (
                toks[j].low in {"the", "of", "and"} and j + 1 < len(toks) and _is_name(toks[j + 1]))):
            j += 1
        nxt = toks[j] if j < len(toks) else None
        verb = nxt is not None and (nxt.low in hw.SKIP | hw.SPEECH | hw.STANCE | hw.COPULA | hw.PARTICIPLES | hw.IRREGULAR
                                    or (nxt.low.endswith("ed") and not nxt.cap) or nxt.text == ",")
        if j > i and verb and not toks[j - 1].text.endswith(("'s", "’s")):
            return _back_np(toks, j - 1)
    return None


def _cues(toks: list[_Tok], headline: bool) -> list[tuple[int, str, tuple[int, int], int]]:
    """Every cue: (strength, name, holder token range, cue token)."""
    found = []
    for v, tok in enumerate(toks):
        if tok.quoted:
            continue
        low = tok.low
        if low == "according" and v + 1 < len(toks) and toks[v + 1].low == "to":
            if (np := _forward_np(toks, v + 2)):
                found.append((0, "according to", np, v))
        elif low in hw.SPEECH and (not tok.cap or headline or v == 0):
            if (np := _subject(toks, v)):
                found.append((0, "speech", np, v))
            elif low in hw.INVERTED and v > 0 and (toks[v - 1].text in ",”\"" or toks[v - 1].quoted):
                np = _forward_np(toks, v + 1)
                if np and (np[1] == len(toks) or not toks[np[1]].text[:1].isalnum()
                           or toks[np[1]].low in hw.LEAD | {"who", "adding", "during", "last", "earlier"}):
                    found.append((0, "speech", np, v))
        elif low in hw.PARTICIPLES and v > 0 and toks[v - 1].text == ",":
            if (np := _main_subject(toks)):
                found.append((1, "stance", np, v))
        elif low in hw.ADJ and not headline and not (v > 0 and _skip_back(toks, v) in hw.COPULA):
            continue
        elif low in hw.STANCE and (not tok.cap or headline):
            if (np := _subject(toks, v)):
                found.append((1, "stance", np, v))
        elif low in hw.POSSESSED and v > 0 and not toks[v - 1].quoted:
            p = v - 1 if toks[v - 1].text.endswith(("'s", "’s")) or v < 2 else v - 2  # "Putin's firm opposition"
            if toks[p].text.endswith(("'s", "’s")) and (np := _back_np(toks, p)):
                found.append((2, "possessive", np, v))
    if len(toks) > 2 and (k := next((k for k, t in enumerate(toks[:4]) if t.text == ":"), 0)) \
            and all(_is_name(t) and t.low not in hw.EVENTS for t in toks[:k]):  # "Zelensky: Allied boots ..."
        found.append((0, "speech", (0, k), k))
    colon = [k for k, t in enumerate(toks) if t.text == ":" and not t.quoted]
    if colon and 0 < len(toks) - colon[-1] - 1 <= 4 and (np := _forward_np(toks, colon[-1] + 1)):
        found.append((0, "speech", np, colon[-1]))  # "Troops 'unacceptable': Russia"
    return found


def _skip_back(toks: list[_Tok], v: int) -> str:
    """The word before token ``v``, skipping adverbs."""
    j = v - 1
    while j > 0 and (toks[j].low.endswith("ly") or toks[j].low in {"not", "also", "still", "n't"}):
        j -= 1
    return toks[j].low


def _headline(text: str, toks: list[_Tok]) -> bool:
    words = [t for t in toks if t.text[:1].isalpha() and len(t.text) > 3]
    return len(words) >= 3 and not text.rstrip().endswith(".") and sum(t.cap for t in words) >= 0.8 * len(words)


def _from_context(pronoun: str, context: str | Sequence[str] | None) -> Attribution | None:
    """The nearest earlier holder in ``context`` that a pronoun can stand for."""
    if not context:
        return None
    sentences = _sentences(context) if isinstance(context, str) else list(context)
    want = hw.PRONOUNS.get(pronoun, "any")
    for sentence in reversed(sentences[-4:]):
        found = attribute(sentence)
        if found.kind == "author" and (np := _main_subject(toks := _tokens(sentence))):
            holder, kind = _classify([t.text for t in toks[np[0]:np[1]]])  # "Peskov chose not to ..."
            found = Attribution(holder, kind)
        if found.kind in {"named", "role"} and want in {"person", "any"}:
            return found
        if found.kind == "organisation" and want in {"organisation", "any"}:
            return found
    return None


def _role_named(role: str, context: str | Sequence[str] | None) -> str | None:
    """The name that "the Kremlin spokesman" stands for: the last "Kremlin spokesman Dmitry Peskov" in ``context``."""
    if not context or role.lower().endswith("s"):
        return None
    text = context if isinstance(context, str) else " ".join(context)
    words = [re.escape(w) for w in role.split()]
    words[-1] = words[-1] + r"\w*" if words[-1].lower() in {"spokesman", "spokesperson", "spokeswoman"} else words[-1]
    if words[-1].lower().startswith("spokes"):
        words[-1] = r"spokes\w+"
    pattern = re.compile(r"(?i:\b" + r"\s+".join(words) + r")\s+((?:\[?[A-Z][\w’'-]+\]?\s*){1,3})")
    found = [m.group(1) for m in pattern.finditer(text)]
    return " ".join(found[-1].replace("[", "").replace("]", "").split()) if found else None


def _sentences(text: str) -> list[str]:
    from stance.annotation.segment import segment

    return [span.text for span in segment(text)]


def attribute(text: str, context: str | Sequence[str] | None = None) -> Attribution:
    """Who holds the stance of one statement.

    Parameters
    ----------
    text : str
        One statement (a sentence or a headline).
    context : str, sequence of str or None, default=None
        What comes before it in the article (its text, or its sentences in order): used to resolve
        "he said" and a quote continuing the previous sentence's speaker. None: the statement alone.

    Returns
    -------
    Attribution
        The holder, its kind, the cue's span and other holders named; :data:`AUTHOR` when no cue.
    """
    toks = _tokens(text)
    headline = _headline(text, toks)
    cues = _cues(toks, headline)
    comma = next((k for k, t in enumerate(toks) if t.text == "," and not t.quoted), len(toks))
    if toks and toks[0].low in hw.LEAD | {"what", "whether", "if", "though"}:  # "In what critics called X, Y said"
        cues = [(strength + 0.5 if v < comma else strength, *rest, v) for strength, *rest, v in cues]
    ends = [(k, t.text) for k, t in enumerate(toks) if t.text in ".!?" and not t.quoted]
    cues = [cue for cue in cues if cue[1] in {"speech", "according to"}  # a question holds no position
            or next((mark for k, mark in ends if k > cue[3]), ".") != "?"]
    # a position asked about ("whether Moscow would agree") is not held
    cues = [cue for cue in cues if not (cue[1] == "stance" and cue[2][0] > 0
                                        and toks[cue[2][0] - 1].low in {"whether", "if", "unless"})]
    cues.sort(key=lambda cue: (cue[0], cue[3]))
    chosen, names = None, []
    for strength, name, (i, j), v in cues:
        holder, kind = _classify([t.text for t in toks[i:j]])
        if not holder or kind == "author":
            continue
        start, end = min(toks[i].start, toks[v].start), max(toks[j - 1].end, toks[v].end)
        found = Attribution(holder, kind, start, end, name)
        if kind == "pronoun" and (resolved := _from_context(holder, context)):
            found = Attribution(resolved.holder, resolved.kind, start, end, name)
        elif kind == "role" and toks[i].low == "the" and (named := _role_named(holder, context)):
            found = Attribution(named, "named", start, end, name)
        elif kind == "role" and holder.split()[0].lower() in {"its", "country's", "country’s", "his", "their"} \
                and (subject := _main_subject(toks)) and subject[1] <= i:  # "Lithuania ..., its defence minister said"
            owner, owner_kind = _classify([t.text for t in toks[subject[0]:subject[1]]])
            if owner_kind == "organisation":
                found = Attribution(f"{owner} {holder.split(maxsplit=1)[-1]}", kind, start, end, name)
        if chosen is None:
            chosen = found
            last = holder.lower().split()[-1]
            if kind == "role" and last in hw.ANON and (subject := _main_subject(toks)) and subject[1] <= i:
                holder, kind = _classify([t.text for t in toks[subject[0]:subject[1]]])
                if kind in {"named", "organisation", "role"} and holder.lower().split()[-1] not in hw.ANON:
                    names.append(found.holder)  # "X has drawn up options, officials said": X
                    chosen = Attribution(holder, kind, toks[subject[0]].start, toks[subject[1] - 1].end, "subject")
        if found.holder not in names and found.kind != "pronoun":
            names.append(found.holder)
    if chosen is None and headline:
        for size in (2, 1):
            lead = [t.text for t in toks[:size]]
            if " ".join(lead) in hw.COUNTRIES or " ".join(lead).lower() in hw.ALIASES:
                holder, kind = _classify(lead)
                chosen = Attribution(holder, kind, toks[0].start, toks[size - 1].end, "headline")
                names.append(holder)
                break
    if chosen is None and toks and toks[0].text in "“\"«" and context:
        previous = _sentences(context) if isinstance(context, str) else list(context)
        if previous and (before := attribute(previous[-1], previous[:-1])).cue in {"speech", "quote"}:
            return Attribution(before.holder, before.kind, None, None, "quote")
    if chosen is None:
        return AUTHOR
    return Attribution(chosen.holder, chosen.kind, chosen.start, chosen.end, chosen.cue,
                       tuple(n for n in names if n != chosen.holder))


def holder(text: str, context: str | Sequence[str] | None = None) -> str:
    """The holder of one statement as a string: ``author`` when it reports no one (see :func:`attribute`)."""
    return attribute(text, context).holder
