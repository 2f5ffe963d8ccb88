"""New articles into the corpus: ``stance corpus add``, and reading one for ``stance predict --article``.

An added article is raw data: its bytes are stored once in the seeds folder under a name
derived from its content (``NNN_<sha256 prefix>.txt``), never edited afterwards, and listed with
its URL and date in ``seeds/articles.jsonl``. Its statements, split by the same rules as the
seeds (exact character spans), become a pending batch of unlabelled statements
(``annotations/pending/<document>.jsonl``) for annotation. Adding the same bytes again is a
no-op.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stance.annotation.corpus import extract_document
from stance.errors import StanceError
from stance.io import atomic_write_bytes, atomic_write_text, dumps_jsonl
from stance.labels import FOREIGN_TROOPS_TARGET

#: The list of added articles, in the seeds folder.
INDEX = "articles.jsonl"


def read_article(path: str | Path) -> str:
    """An article's text; a missing, empty, binary or non-UTF-8 file is one clear error."""
    path = Path(path)
    if not path.is_file():
        raise StanceError("article file not found", path=path)
    data = path.read_bytes()
    if b"\x00" in data:
        raise StanceError("a binary file, not a text article", path=path)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise StanceError("not valid UTF-8", path=path, line=data[: exc.start].count(b"\n") + 1) from None
    if not text.strip():
        raise StanceError("the article is empty", path=path)
    return text


@dataclass(frozen=True)
class Added:
    document: str
    article: Path
    pending: Path | None
    statements: int
    new: bool


def _check_url(url: str | None) -> None:
    if url is not None and not re.match(r"^https?://[^\s/]+\S*$", url):
        raise StanceError(f"--url '{url}' is not an http(s) URL")


def _check_date(date: str | None) -> None:
    if date is None:
        return
    try:
        dt.date.fromisoformat(date)
    except ValueError:
        raise StanceError(f"--date '{date}' is not a date of the form YYYY-MM-DD") from None


def _next_number(seeds_dir: Path) -> int:
    numbers = [int(p.name[:3]) for p in seeds_dir.glob("*.txt") if p.name[:3].isdigit()]
    return max(numbers, default=-1) + 1


def read_index(seeds_dir: Path) -> list[dict[str, Any]]:
    path = seeds_dir / INDEX
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def add_article(path: str | Path, seeds_dir: str | Path, pending_dir: str | Path,
                url: str | None = None, date: str | None = None, target: str = FOREIGN_TROOPS_TARGET) -> Added:
    """Store an article, split it into statements and write them as a pending batch.

    The pending batch is written first and the article last, each atomically, so an
    interrupted call leaves no article without its statements.
    """
    seeds_dir, pending_dir, path = Path(seeds_dir), Path(pending_dir), Path(path)
    text = read_article(path)
    _check_url(url)
    _check_date(date)
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if not seeds_dir.is_dir():
        raise StanceError("seeds folder not found", path=seeds_dir)
    for existing in sorted(seeds_dir.glob("*.txt")):
        if hashlib.sha256(existing.read_bytes()).hexdigest() == digest:
            pending = pending_dir / f"{existing.stem}.jsonl"
            return Added(existing.stem, existing, pending if pending.is_file() else None, 0, new=False)
    document = f"{_next_number(seeds_dir):03d}_{digest[:16]}"
    records = extract_document(document, text, target)
    if not records:
        raise StanceError("no statements found in the article (only boilerplate?)", path=path)
    pending = pending_dir / f"{document}.jsonl"
    pending_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(pending, dumps_jsonl(records))
    article = seeds_dir / f"{document}.txt"
    atomic_write_bytes(article, data)
    entry = {"document": document, "sha256": digest, "url": url, "date": date, "source": path.name,
             "added": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), "statements": len(records)}
    atomic_write_text(seeds_dir / INDEX, dumps_jsonl([*read_index(seeds_dir), entry]))
    return Added(document, article, pending, len(records), new=True)


# --------------------------------------------------------------------------- holders
_NAME = r"(?:[A-Z][\w’'.-]*|al-|de|von|bin)(?:\s+(?:[A-Z][\w’'.-]*|al-|de|von|of|the)){0,4}"
_VERBS = r"(?:said|says|told|warned|stated|added|argued|insisted|claimed|noted|stressed|declared|announced|" \
         r"wrote|tweeted|replied|explained|suggested|asserted|reiterated|confirmed|denied)"
_PATTERNS = [
    re.compile(rf"(?P<holder>{_NAME})(?:,\s[^,]{{2,60}},)?\s+{_VERBS}\b"),
    re.compile(rf"\b{_VERBS}\s+(?P<holder>{_NAME})\s*(?:[.,;:!?]|$)"),
    re.compile(rf"\baccording to (?:the\s+)?(?P<holder>{_NAME})"),
]
_NOT_HOLDERS = {"He", "She", "It", "They", "We", "I", "You", "This", "That", "There", "The", "A", "An", "But", "And"}


def holders(text: str) -> list[str]:
    """Who a statement reports as speaking ("Peskov said", "according to the Kremlin"): a
    pattern heuristic for summaries, not a trained extractor."""
    found = []
    for pattern in _PATTERNS:
        for match in pattern.finditer(text):
            name = re.sub(r"^(?:The|the)\s+", "", match.group("holder")).strip(" .,’'")
            name = re.sub(r"\s+(?:of|the|de|von)$", "", name)
            if name and name not in _NOT_HOLDERS and name not in found:
                found.append(name)
    return found
