"""Split a news article into statements, following the Unit rule of the label spec.

One statement is one sentence of article text (headlines and sub-headlines included);
boilerplate (bylines, "X contributed reporting", links, "Original url", navigation,
photo credits and captions that are not full sentences) is skipped.

The work is done in three layers, each kept simple:

1. *Blocks*: non-blank lines. A line that stops mid-sentence (no closing punctuation)
   and is followed by a line starting in lower case is joined to it, because some
   scraped articles break a sentence with a blank line.
2. *Filters*: a block that is boilerplate is dropped; a trailing photo credit is cut off;
   a caption that is not a full sentence is dropped.
3. *Sentences*: pysbd's rule-based segmenter splits each block. It keeps quotations
   ("straight" and “curly”) and abbreviations ("U.S.", "Dr.") intact. As a safety net,
   a boundary that falls inside an open double quotation is undone.

Every statement is returned with its exact character span in the document, so that
``document[start:end] == text`` always holds.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

#: Sentence-final punctuation, optionally followed by closing quotes, brackets or emphasis.
_ENDS_SENTENCE = re.compile(r"[.!?…][\"'”’)\]*_]*\s*$")
_HEADING_MARK = re.compile(r"^#{1,6}\s+")

#: Whole blocks that are not statements (matched case-insensitively against the block).
_BOILERPLATE = [
    re.compile(p, re.IGNORECASE)
    for p in (
        r"^\W*$",  # lone punctuation such as "-"
        r"^\*?\s*\w[\w\s,.&-]*\bcontributed (?:to )?(?:this )?report(?:ing)?\b.*$",
        r"^(?:reporting|writing|editing|additional reporting) by\b.*$",
        r"^by\s+[A-Z][\w.'-]*(?:\s+[A-Z][\w.'-]*){0,3}$",  # byline
        r"^original url\s*:?.*$",
        r"^<?https?://\S+>?$",
        r"^\W*related(?: article| story| coverage)?\W*:.*$",
        r"^(?:read more|read also|see also|also read)\s*:.*$",
        r"^(?:leave a comment|live tv|newsletter|subscribe\b.*|share(?: this)?(?: article)?|"
        r"advertisement|comments?|sign up\b.*|follow us\b.*|world|politics|news|europe)$",
        r"^(?:\w+day,?\s+)?(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+\d{1,2},?\s+\d{4}$",
        r"^\d{1,2}\s+(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+\d{4}$",
        r"^(?:date\s+)?\d{4}-\d{2}-\d{2}(?:\s+\w+)?$",  # dateline such as "date 2025-02-20 WORLD"
    )
]

#: Photo credits at the end of a caption; what precedes them is a caption.
_CREDIT = re.compile(
    r"\s*(?:"
    r"\((?:[^()]*\bPhoto\b[^()]*|[^()]*/\s*(?:Pool|Reuters|AP|AFP|Getty Images))\)"  # (AP Photo/Name, Pool)
    r"|/\s*Photo\s*:\s*[^/]*"  # "/ Photo: Reuters"
    r"|\[[^\]]*\]\(https?://[^)]*\)"  # [kremlin.ru](http://kremlin.ru)
    r")\s*$"
)

#: A caption (text before a photo credit) with fewer words than this is not a full sentence.
MIN_CAPTION_WORDS = 6

_OPEN_QUOTES = "“"
_CLOSE_QUOTES = "”"


@dataclass(frozen=True)
class Span:
    """A statement: its character offsets in the document and its exact text."""

    start: int
    end: int
    text: str


@functools.lru_cache(maxsize=1)
def _segmenter():
    import pysbd  # local: keeps importing this module cheap

    return pysbd.Segmenter(language="en", clean=False)


def _blocks(document: str) -> list[tuple[int, int]]:
    """Non-blank lines as ``(start, end)`` offsets, stripped, with broken sentences re-joined."""
    blocks: list[tuple[int, int]] = []
    for match in re.finditer(r"[^\n]+", document):
        line = match.group()
        stripped = line.strip()
        if not stripped:
            continue
        start = match.start() + (len(line) - len(line.lstrip()))
        end = start + len(stripped)
        if blocks:
            prev_start, prev_end = blocks[-1]
            prev = document[prev_start:prev_end]
            if not _ENDS_SENTENCE.search(prev) and stripped[0].islower() and len(prev.split()) >= 4:
                blocks[-1] = (prev_start, end)
                continue
        blocks.append((start, end))
    return blocks


def _is_boilerplate(text: str) -> bool:
    flat = " ".join(text.split()).strip("*_ ")
    return any(p.match(flat) for p in _BOILERPLATE)


def _inside_quote(text: str) -> bool:
    """True when ``text`` leaves a double quotation open (curly or straight)."""
    curly = sum(text.count(c) for c in _OPEN_QUOTES) - sum(text.count(c) for c in _CLOSE_QUOTES)
    return curly > 0 or text.count('"') % 2 == 1


def _sentences(block: str) -> list[tuple[int, int]]:
    """Sentence offsets within one block (pysbd, with quote-internal boundaries undone)."""
    flat = block.replace("\n", " ").replace("\r", " ")  # same length: offsets stay valid
    pieces: list[tuple[int, int]] = []
    cursor = 0
    for sentence in _segmenter().segment(flat):
        core = sentence.strip()
        if not core:
            continue
        start = flat.find(core, cursor)
        if start < 0:  # pysbd altered the text; fall back to one statement per block
            return [(0, len(block))]
        pieces.append((start, start + len(core)))
        cursor = start + len(core)

    # Undo a split inside a quotation, but only where the block's quotes are balanced
    # (a quotation running on into the next paragraph must not swallow the block).
    balanced = not _inside_quote(block)
    merged: list[tuple[int, int]] = []
    for start, end in pieces:
        if merged and balanced and _inside_quote(block[: merged[-1][1]]):
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def _trim(document: str, start: int, end: int) -> tuple[int, int]:
    """Drop surrounding white space and markdown heading or emphasis marks from a span."""
    text = document[start:end]
    heading = _HEADING_MARK.match(text)
    if heading:
        start += heading.end()
    while start < end and (document[start].isspace() or document[start] in "*_"):
        start += 1
    while end > start and (document[end - 1].isspace() or document[end - 1] in "*_"):
        end -= 1
    return start, end


def segment(document: str) -> list[Span]:
    """Split an article into statements with exact spans (see the module docstring)."""
    spans: list[Span] = []
    for block_start, block_end in _blocks(document):
        block_start, block_end = _trim(document, block_start, block_end)
        block = document[block_start:block_end]
        if not block or _is_boilerplate(block):
            continue
        credit = _CREDIT.search(block)
        if credit:
            caption = block[: credit.start()]
            if len(caption.split()) < MIN_CAPTION_WORDS:
                continue  # a caption that is not a full sentence
            block_end = block_start + len(caption.rstrip())
            block = document[block_start:block_end]
        for s_start, s_end in _sentences(block):
            start, end = _trim(document, block_start + s_start, block_start + s_end)
            text = document[start:end]
            if not text or _is_boilerplate(text) or _CREDIT.fullmatch(text):
                continue
            spans.append(Span(start, end, text))
    return spans
