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
import fcntl
import hashlib
import os
import re
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stance.annotation.corpus import extract_document
from stance.errors import StanceError
from stance.io import atomic_write_bytes, atomic_write_text, dumps_jsonl, read_jsonl
from stance.labels import FOREIGN_TROOPS_TARGET

#: The list of added articles, in the seeds folder.
INDEX = "articles.jsonl"
#: The lock file beside it: one ``corpus add`` at a time picks a number and appends to the index.
LOCK = ".articles.lock"
#: The largest article read, in bytes, unless ``--max-bytes`` or ``$STANCE_MAX_ARTICLE_BYTES`` says otherwise.
MAX_BYTES = 2_000_000


def max_article_bytes(given: int | None = None) -> int:
    """The size limit of an article: ``given``, else ``$STANCE_MAX_ARTICLE_BYTES``, else :data:`MAX_BYTES`."""
    if given is not None:
        return given
    value = os.environ.get("STANCE_MAX_ARTICLE_BYTES", "").strip()
    if not value:
        return MAX_BYTES
    if not value.isdigit() or int(value) < 1:
        raise StanceError(f"STANCE_MAX_ARTICLE_BYTES='{value}' is not a positive whole number of bytes")
    return int(value)


def read_article_bytes(path: str | Path, max_bytes: int | None = None) -> tuple[bytes, str]:
    """An article's bytes and text. A missing or non-regular file (a folder, a pipe, a device),
    one over the size limit (checked before reading), an empty, binary or non-UTF-8 one is one
    clear error."""
    path, limit = Path(path), max_article_bytes(max_bytes)
    try:
        info = path.stat()
    except FileNotFoundError:
        raise StanceError("article file not found", path=path) from None
    except OSError as exc:
        raise StanceError(f"cannot read the article ({exc.strerror})", path=path) from None
    if not stat.S_ISREG(info.st_mode):
        raise StanceError("not a regular file (a text article is expected)", path=path)
    too_big = f"more than {limit} bytes, the limit for an article (--max-bytes or STANCE_MAX_ARTICLE_BYTES)"
    if info.st_size > limit:
        raise StanceError(f"{info.st_size} bytes, {too_big}", path=path)
    try:
        with path.open("rb") as handle:
            data = handle.read(limit + 1)  # a file that grew (or a /proc file of size 0) stays bounded
    except OSError as exc:
        raise StanceError(f"cannot read the article ({exc.strerror})", path=path) from None
    if len(data) > limit:
        raise StanceError(too_big, path=path)
    if b"\x00" in data:
        raise StanceError("a binary file, not a text article", path=path)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise StanceError("not valid UTF-8", path=path, line=data[: exc.start].count(b"\n") + 1) from None
    if not text.strip():
        raise StanceError("the article is empty", path=path)
    return data, text


def read_article(path: str | Path, max_bytes: int | None = None) -> str:
    """An article's text; see :func:`read_article_bytes` for what is refused."""
    return read_article_bytes(path, max_bytes)[1]


@dataclass(frozen=True)
class Added:
    document: str
    article: Path
    pending: Path | None
    statements: int
    new: bool


def check_url(url: str | None) -> None:
    if url is not None and not re.match(r"^https?://[^\s/]+\S*$", url):
        raise StanceError(f"--url '{url}' is not an http(s) URL")


def check_date(date: str | None) -> None:
    if date is None:
        return
    try:
        dt.date.fromisoformat(date)
    except ValueError:
        raise StanceError(f"--date '{date}' is not a date of the form YYYY-MM-DD") from None


def _next_number(seeds_dir: Path) -> int:
    numbers = [int(p.name[:3]) for p in seeds_dir.glob("*.txt") if p.name[:3].isdigit()]
    return max(numbers, default=-1) + 1


def indexed(seeds_dir: str | Path | None, data: bytes) -> dict[str, Any]:
    """The index entry of the article with these bytes (``document``, ``date``, ``url`` ...), or {}
    when it was never added (or there is no seeds folder)."""
    if seeds_dir is None or not Path(seeds_dir).is_dir():
        return {}
    digest = hashlib.sha256(data).hexdigest()
    return next((e for e in read_index(Path(seeds_dir)) if e.get("sha256") == digest), {})


def read_index(seeds_dir: Path) -> list[dict[str, Any]]:
    path = seeds_dir / INDEX
    if not path.is_file():
        return []
    return [record for _, record in read_jsonl(path)]


@contextmanager
def _locked(seeds_dir: Path) -> Iterator[None]:
    """Hold an exclusive lock on the seeds folder's lock file (waiting for another ``corpus add``)."""
    with open(seeds_dir / LOCK, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def add_article(path: str | Path, seeds_dir: str | Path, pending_dir: str | Path,
                url: str | None = None, date: str | None = None, target: str = FOREIGN_TROOPS_TARGET,
                max_bytes: int | None = None) -> Added:
    """Store an article, split it into statements and write them as a pending batch.

    The pending batch is written first and the article last, each atomically, so an
    interrupted call leaves no article without its statements. Choosing the number, writing
    and listing the article happen under an exclusive lock on ``seeds_dir/.articles.lock``,
    so that two calls at once never take the same number or lose an index line.
    """
    seeds_dir, pending_dir, path = Path(seeds_dir), Path(pending_dir), Path(path)
    data, text = read_article_bytes(path, max_bytes)
    check_url(url)
    check_date(date)
    digest = hashlib.sha256(data).hexdigest()
    if not seeds_dir.is_dir():
        raise StanceError("seeds folder not found", path=seeds_dir)
    with _locked(seeds_dir):
        for existing in sorted(seeds_dir.glob("*.txt")):
            if hashlib.sha256(existing.read_bytes()).hexdigest() == digest:
                pending = pending_dir / f"{existing.stem}.jsonl"
                return Added(existing.stem, existing, pending if pending.is_file() else None, 0, new=False)
        index = read_index(seeds_dir)
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
        atomic_write_text(seeds_dir / INDEX, dumps_jsonl([*index, entry]))
    return Added(document, article, pending, len(records), new=True)
