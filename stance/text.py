"""Text preparation for sentence encoders: pure functions of strings (no heavy imports, so
that the lean runtime applies exactly what training applied)."""

from __future__ import annotations

import re

_HASHTAG = re.compile(r"(?<!\w)#(\w+)")  # not inside a word ("C#")


def _starts_word(tag: str, k: int) -> bool:
    """Whether a new word starts at ``tag[k]``: after a lower-case letter or digit comes a
    capital, letters meet digits, or an acronym's last capital starts a word ("USArmy")."""
    before, here = tag[k - 1], tag[k]
    if here.isdigit() != before.isdigit():
        return True
    if here.isupper() and before.islower():
        return True
    return here.isupper() and before.isupper() and k + 1 < len(tag) and tag[k + 1].islower()


def split_hashtag(tag: str) -> str:
    """A hashtag's body as words, for any script: "NoMoreWar" -> "No More War", "USArmy" ->
    "US Army", "G7summit" -> "G 7 summit", "ÜberTruppen" -> "Über Truppen"; "_" separates too."""
    words = []
    for part in filter(None, tag.split("_")):
        start = 0
        for k in range(1, len(part)):
            if _starts_word(part, k):
                words.append(part[start:k])
                start = k
        words.append(part[start:])
    return " ".join(words) if words else tag


def split_hashtags(text: str) -> str:
    """``text`` with each hashtag replaced by its words, so that a sentence encoder, which has
    seldom seen "#StopTheWar" as one token, reads "Stop The War"."""
    return _HASHTAG.sub(lambda m: split_hashtag(m.group(1)), text)


def prepare(texts: list[str], hashtags: bool = False) -> list[str]:
    """Texts as a sentence encoder should read them (``hashtags``: split into words)."""
    return [split_hashtags(t) for t in texts] if hashtags else list(texts)
