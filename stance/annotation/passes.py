"""Annotation records: schema, import of label sheets, validation and adjudication.

A record is one labelled statement (one JSON object a line in a ``.jsonl`` file) with the
fields that the label spec requires, plus a one-line rationale. A statement from an article
(``origin`` absent or ``article``) has its character span in that article; a statement the
project wrote (``origin: written``, ``annotations/written/``) has none, and its ``document``
is its writing batch. Written statements train models but are never tested on.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stance.errors import StanceError
from stance.io import atomic_write_text, dumps_jsonl, iter_jsonl, parse_table, read_jsonl, read_text
from stance.labels import LABELS

#: Field name -> required type, in the order records are written.
RECORD_FIELDS: dict[str, type] = {
    "id": str,
    "document": str,
    "start": int,
    "end": int,
    "text": str,
    "target": str,
    "label": str,
    "holder": str,
    "annotator": str,
    "rationale": str,
}
#: Where a statement comes from: an article (with a span), or written by the project (no span).
ORIGINS = ("article", "written")
#: Fields a written statement has no value for.
SPAN_FIELDS = ("start", "end")
#: Fields a label sheet (what an annotator fills in) must have.
SHEET_FIELDS = ("id", "label", "holder", "rationale")
#: Fields of an adjudication decision.
DECISION_FIELDS = ("id", "label", "holder", "note")


@dataclass(frozen=True)
class Problem:
    """One validation finding, printed as ``file:line: reason``."""

    path: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.reason}"


def origin_of(record: dict[str, Any]) -> str:
    """``article`` or ``written`` (records from before the field existed are from articles)."""
    return record.get("origin", "article")


def _check_record(record: dict[str, Any]) -> list[str]:
    """Schema problems of one record, as reasons (empty when it is well formed)."""
    reasons = []
    origin = origin_of(record)
    if origin not in ORIGINS:
        reasons.append(f"unknown origin '{origin}' (expected one of {', '.join(ORIGINS)})")
    for name, kind in RECORD_FIELDS.items():
        if origin == "written" and name in SPAN_FIELDS:
            if name in record:
                reasons.append(f"field '{name}': a written statement has no span")
            continue
        if name not in record:
            reasons.append(f"missing field '{name}'")
        elif not isinstance(record[name], kind) or (kind is int and isinstance(record[name], bool)):
            reasons.append(f"field '{name}' must be {kind.__name__}, got {type(record[name]).__name__}")
        elif kind is str and name != "rationale" and not record[name].strip():
            reasons.append(f"field '{name}' is empty")
    if isinstance(record.get("label"), str) and record["label"] not in LABELS:
        reasons.append(f"unknown label '{record['label']}' (expected one of {', '.join(LABELS)})")
    return reasons


def validate_file(path: str | Path, seeds_dir: str | Path) -> list[Problem]:
    """Every problem in an annotation file: schema, labels, unique ids, spans, duplicates.

    A span is checked against ``seeds_dir/<document>.txt``: ``article[start:end]`` must equal
    the record's text exactly. Duplicates are two records of the same document whose spans
    or texts coincide.
    """
    path, seeds_dir = Path(path), Path(seeds_dir)
    problems: list[Problem] = []
    ids: dict[str, int] = {}
    spans: dict[tuple[str, int, int], int] = {}
    texts: dict[tuple[str, str], int] = {}
    articles: dict[str, str | None] = {}

    def report(line: int, reason: str) -> None:
        problems.append(Problem(str(path), line, reason))

    try:
        rows = list(iter_jsonl(path))
    except StanceError as exc:
        return [Problem(str(path), exc.line or 0, exc.reason)]
    if not rows:
        report(0, "no records")
    for line, record in rows:
        if isinstance(record, StanceError):
            report(line, record.reason)
            continue
        reasons = _check_record(record)
        for reason in reasons:
            report(line, reason)
        rid = record.get("id")
        if isinstance(rid, str):
            if rid in ids:
                report(line, f"duplicate id '{rid}' (first on line {ids[rid]})")
            else:
                ids[rid] = line
        if origin_of(record) == "written" and isinstance(record.get("text"), str):
            key = ("written", " ".join(record["text"].split()).casefold())
            if key in texts:
                report(line, f"duplicate statement: same text as line {texts[key]}")
            else:
                texts[key] = line
            continue  # no span to check
        if not all(isinstance(record.get(k), RECORD_FIELDS[k]) and not isinstance(record.get(k), bool)
                   for k in ("document", "start", "end", "text")):
            continue  # the span cannot be checked without these
        doc, start, end, text = record["document"], record["start"], record["end"], record["text"]
        if doc not in articles:
            article_path = seeds_dir / f"{doc}.txt"
            articles[doc] = article_path.read_text(encoding="utf-8") if article_path.is_file() else None
        article = articles[doc]
        if article is None:
            report(line, f"document '{doc}' not found in {seeds_dir}")
        elif not (0 <= start < end <= len(article)) or article[start:end] != text:
            report(line, f"span {start}:{end} does not match the text of '{doc}'")
        if (doc, start, end) in spans:
            report(line, f"duplicate statement: same span as line {spans[(doc, start, end)]}")
        else:
            spans[(doc, start, end)] = line
            key = (doc, " ".join(text.split()).casefold())
            if key in texts:
                report(line, f"duplicate statement: same text as line {texts[key]}")
            else:
                texts[key] = line
    return problems


def read_records(path: str | Path) -> list[dict[str, Any]]:
    """Load annotation records, stopping at the first malformed one with a clear error."""
    records = []
    for line, record in iter_jsonl(path):
        if isinstance(record, StanceError):
            raise record
        reasons = _check_record(record)
        if reasons:
            raise StanceError(reasons[0], path=path, line=line)
        records.append(record)
    if not records:
        raise StanceError("no records", path=path)
    return records


def read_sheet(path: str | Path, fields: Iterable[str] = SHEET_FIELDS) -> list[dict[str, Any]]:
    """Rows of a label sheet (CSV with a header, or JSONL) that carry ``fields``."""
    path, fields = Path(path), tuple(fields)
    if path.suffix.lower() == ".csv":
        names, rows, _ = parse_table(read_text(path, "label sheet"), path, "csv")
        missing = [f for f in fields if f not in names]
        if missing:
            raise StanceError(f"missing column '{missing[0]}'", path=path)
    else:
        rows = read_jsonl(path)
    out = []
    for number, row in rows:
        for name in fields:
            if not isinstance(row.get(name), str):
                raise StanceError(f"missing field '{name}'", path=path, line=number)
        if "label" in fields and row["label"] not in LABELS:
            raise StanceError(f"unknown label '{row['label']}'", path=path, line=number)
        out.append({name: row[name] for name in fields} | {"_line": number})
    return out


def import_sheet(sheet: str | Path, statements: list[dict[str, Any]], annotator: str) -> list[dict[str, Any]]:
    """Join an annotator's label sheet with the extracted statements into full records.

    Every statement must be labelled exactly once and the sheet may not name unknown ids.
    Records come out in statement order.
    """
    rows = read_sheet(sheet)
    by_id: dict[str, dict[str, Any]] = {}
    for row in rows:
        if row["id"] in by_id:
            raise StanceError(f"id '{row['id']}' labelled twice", path=sheet, line=row["_line"])
        by_id[row["id"]] = row
    known = {s["id"] for s in statements}
    for row in rows:
        if row["id"] not in known:
            raise StanceError(f"unknown statement id '{row['id']}'", path=sheet, line=row["_line"])
    missing = [s["id"] for s in statements if s["id"] not in by_id]
    if missing:
        raise StanceError(f"{len(missing)} statements not labelled, first '{missing[0]}'", path=sheet)
    return [
        {**{k: s[k] for k in ("id", "document", "start", "end", "text", "target")},
         "label": by_id[s["id"]]["label"], "holder": by_id[s["id"]]["holder"],
         "annotator": annotator, "rationale": by_id[s["id"]]["rationale"]}
        for s in statements
    ]


def disagreements(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> list[tuple[dict, dict]]:
    """Pairs of records (same id) whose labels differ, in the order of ``a``."""
    b_by_id = {r["id"]: r for r in b}
    return [(r, b_by_id[r["id"]]) for r in a if r["id"] in b_by_id and b_by_id[r["id"]]["label"] != r["label"]]


def adjudicate(a: list[dict[str, Any]], b: list[dict[str, Any]], decisions_path: str | Path,
               corrections_path: str | Path | None = None) -> list[dict[str, Any]]:
    """The gold records: agreed labels as they are, each disagreement settled by a decision.

    ``decisions_path`` is a label sheet with ``id, label, holder, note``; a disagreement
    without a decision, or a decision for an id the passes agree on, is an error.
    ``corrections_path`` (same columns) changes labels after a later re-read (a label audit):
    each correction names a statement of the passes, and its note is kept in the record
    (``correction``) beside the label both passes gave.
    """
    if {r["id"] for r in a} != {r["id"] for r in b}:
        raise StanceError("the two passes do not label the same statements")
    disputed = {ra["id"]: (ra, rb) for ra, rb in disagreements(a, b)}
    if disputed and not Path(decisions_path).exists():
        raise StanceError(f"{len(disputed)} disagreements need a decision: list them with `stance annotations "
                          "adjudicate --list` and write one row each (CSV columns id, label, holder, note)",
                          path=decisions_path)
    decisions = ({row["id"]: row for row in read_sheet(decisions_path, DECISION_FIELDS)}
                 if Path(decisions_path).exists() else {})
    for rid, row in decisions.items():
        if rid not in disputed:
            raise StanceError(f"decision for '{rid}', which the passes agree on", path=decisions_path,
                              line=row["_line"])
    undecided = [rid for rid in disputed if rid not in decisions]
    if undecided:
        raise StanceError(f"{len(undecided)} disagreements without a decision, first '{undecided[0]}'",
                          path=decisions_path)
    b_by_id = {r["id"]: r for r in b}
    gold = []
    for record in a:
        names = f"{record['annotator']}+{b_by_id[record['id']]['annotator']}"
        if record["id"] not in disputed:
            gold.append({**record, "annotator": names})
            continue
        ra, rb = disputed[record["id"]]
        decision = decisions[record["id"]]
        source = ra if ra["label"] == decision["label"] else rb if rb["label"] == decision["label"] else None
        rationale = source["rationale"] if source else decision["note"]
        gold.append({**record, "label": decision["label"], "holder": decision["holder"],
                     "annotator": f"adjudicated({names})", "rationale": rationale,
                     "adjudication": decision["note"]})
    return _corrected(gold, corrections_path) if corrections_path else gold


def _corrected(gold: list[dict[str, Any]], corrections_path: str | Path) -> list[dict[str, Any]]:
    """``gold`` with the corrections of a later re-read applied (label, holder, note kept)."""
    corrections = {row["id"]: row for row in read_sheet(corrections_path, DECISION_FIELDS)}
    known = {r["id"] for r in gold}
    for rid, row in corrections.items():
        if rid not in known:
            raise StanceError(f"correction for unknown statement '{rid}'", path=corrections_path, line=row["_line"])
        if row["label"] not in LABELS:
            raise StanceError(f"unknown label '{row['label']}'", path=corrections_path, line=row["_line"])
    out = []
    for record in gold:
        row = corrections.get(record["id"])
        out.append(record if row is None else {**record, "label": row["label"], "holder": row["holder"],
                                                "correction": f"was {record['label']}: {row['note']}"})
    return out


def write_records(records: list[dict[str, Any]], out: str | Path, replace: bool = True) -> bool:
    """Write records as JSONL atomically; False when the file already holds exactly these.
    ``replace=False`` refuses to replace a file with other content (a StanceError)."""
    return atomic_write_text(out, dumps_jsonl(records), replace=replace)
