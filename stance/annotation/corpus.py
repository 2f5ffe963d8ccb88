"""The seed corpus: statements extracted from source articles, and reports on labelled records."""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path
from typing import Any

from stance.errors import StanceError
from stance.io import atomic_write_text, dumps_jsonl, read_text
from stance.labels import FOREIGN_TROOPS_TARGET, LABELS
from stance.annotation.segment import segment

#: Fields of an extracted (not yet labelled) statement, in file order.
STATEMENT_FIELDS = ("id", "document", "start", "end", "text", "target")


def statement_id(document: str, text: str) -> str:
    """A stable id: the document name and a hash of the statement text.

    It does not depend on the statement's position, so re-segmenting other parts of an
    article leaves the ids of unchanged statements alone.
    """
    digest = hashlib.sha1(text.encode("utf-8")).hexdigest()[:8]
    return f"{document}:{digest}"


def seed_files(seeds_dir: str | Path) -> list[Path]:
    """The ``*.txt`` articles of a seeds folder, sorted by name."""
    seeds_dir = Path(seeds_dir)
    if not seeds_dir.is_dir():
        raise StanceError("seeds folder not found", path=seeds_dir)
    files = sorted(seeds_dir.glob("*.txt"))
    if not files:
        raise StanceError("no *.txt articles in the seeds folder", path=seeds_dir)
    return files


def extract_document(document: str, text: str, target: str = FOREIGN_TROOPS_TARGET) -> list[dict[str, Any]]:
    """Statements of one article as records (see STATEMENT_FIELDS)."""
    records: list[dict[str, Any]] = []
    seen: Counter[str] = Counter()
    for span in segment(text):
        sid = statement_id(document, span.text)
        seen[sid] += 1
        if seen[sid] > 1:  # the same sentence twice in one article: keep both, distinctly
            sid = f"{sid}-{seen[sid]}"
        records.append(
            {"id": sid, "document": document, "start": span.start, "end": span.end, "text": span.text, "target": target}
        )
    return records


def extract(seeds_dir: str | Path, target: str = FOREIGN_TROOPS_TARGET) -> list[dict[str, Any]]:
    """Statements of every article in a seeds folder; the document name is the file stem."""
    records: list[dict[str, Any]] = []
    for path in seed_files(seeds_dir):
        records.extend(extract_document(path.stem, read_text(path, "seed article"), target))
    return records


def write_statements(records: list[dict[str, Any]], out: str | Path, replace: bool = True) -> bool:
    """Write statements as JSONL atomically; False when the file already holds exactly these.
    ``replace=False`` refuses to replace a file with other content (a StanceError)."""
    return atomic_write_text(out, dumps_jsonl(records), replace=replace)


def label_table(records: list[dict[str, Any]], by: str = "document") -> dict[str, Counter[str]]:
    """Counts of each label per value of ``by`` (document, holder, annotator ...), sorted by key."""
    table: dict[str, Counter[str]] = {}
    for record in records:
        table.setdefault(str(record.get(by, "")), Counter())[record["label"]] += 1
    return dict(sorted(table.items()))


def label_columns(table: dict[str, Counter[str]]) -> list[str]:
    """The label set, plus any unexpected label that occurs, in a fixed order."""
    extra = sorted({lab for counts in table.values() for lab in counts} - set(LABELS))
    return [*LABELS, *extra]
