"""The datasheet's figures (``annotations/README.md``) and the annotation tables the CLI prints:
label counts per document or holder, agreement between two passes, adjudication."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from stance.annotation.agreement import Agreement, agreement
from stance.annotation.corpus import label_columns, label_table
from stance.annotation.passes import read_records
from stance.io import read_text
from stance.tables import markdown_table, replace_section, rich_table

BEGIN = "<!-- BEGIN GENERATED: stance annotations datasheet -->"
BEGIN_WRITTEN = "<!-- BEGIN GENERATED: stance annotations datasheet, written statements -->"
END = "<!-- END GENERATED -->"


def _rows(records: list[dict[str, Any]], by: str) -> tuple[list[str], list[list[str]]]:
    table = label_table(records, by)
    labels = label_columns(table)
    rows = [[key, *(str(counts[lab]) for lab in labels), str(sum(counts.values()))] for key, counts in table.items()]
    totals = [sum(int(row[k + 1]) for row in rows) for k in range(len(labels))]
    rows.append(["all", *map(str, totals), str(sum(totals))])
    return [by, *labels, "total"], rows


def label_distribution_table(records: list[dict[str, Any]], by: str, title: str = ""):
    """A rich Table: one row per value of ``by``, one column per label, and totals."""
    return rich_table(*_rows(records, by), title=title, rule_before_last=True)


def agreement_table(result: Agreement, first: str, second: str):
    """The confusion table of two passes as a rich Table (rows: first pass)."""
    rows = [[lab, *map(str, row)] for lab, row in zip(result.labels, result.confusion)]
    return rich_table(["", *result.labels], rows, title=f"rows: {first}, columns: {second}")


def _agreement_lines(result: Agreement) -> list[str]:
    return [
        f"- statements paired: {result.n}",
        f"- observed agreement: {result.observed:.3f}",
        f"- Cohen's kappa: {result.cohen_kappa:.3f}",
        f"- Krippendorff's alpha (nominal): {result.krippendorff_alpha:.3f}",
    ]


def _quoted_in(guidelines: str, records: list[dict[str, Any]]) -> set[str]:
    """Ids of statements whose text (or a 60-character stretch of it) the guidelines quote."""
    flat = " ".join(guidelines.replace("’", "'").split())
    quoted = set()
    for record in records:
        text = " ".join(record["text"].replace("’", "'").split()).strip('"“” ')
        probe = text[:60]
        if probe and probe in flat:
            quoted.add(record["id"])
    return quoted


def datasheet_section(gold: list[dict], first: list[dict], second: list[dict], guidelines: str) -> str:
    """The generated part of the datasheet: counts, agreement and adjudication figures."""
    names = (first[0]["annotator"], second[0]["annotator"])
    result = agreement(first, second)
    quoted = _quoted_in(guidelines, first)
    unquoted = agreement([r for r in first if r["id"] not in quoted], [r for r in second if r["id"] not in quoted])
    adjudicated = sum("adjudication" in r for r in gold)
    b_holder = {r["id"]: r["holder"] for r in second}
    same_holder = sum(r["holder"].casefold() == b_holder.get(r["id"], "").casefold() for r in first)
    conf_rows = [[lab, *map(str, row)] for lab, row in zip(result.labels, result.confusion)]
    holder_header, holder_rows = _rows(gold, "holder")
    holder_rows = sorted(holder_rows[:-1], key=lambda r: (-int(r[-1]), r[0])) + holder_rows[-1:]
    parts = [
        f"### Counts ({len(gold)} statements, {len({r['document'] for r in gold})} documents)",
        "",
        markdown_table(*_rows(gold, "document")),
        "",
        "Per holder:",
        "",
        markdown_table(holder_header, holder_rows),
        "",
        f"### Agreement before adjudication ({names[0]} vs {names[1]})",
        "",
        *_agreement_lines(result),
        f"- same holder (case-insensitive): {same_holder} of {result.n}",
        "",
        f"Confusion table (rows: {names[0]}, columns: {names[1]}):",
        "",
        markdown_table(["", *result.labels], conf_rows),
        "",
        f"The guidelines quote {len(quoted)} of the statements as examples, which both annotators saw. "
        f"On the other {unquoted.n}:",
        "",
        *_agreement_lines(unquoted)[1:],
        "",
        "### Adjudication",
        "",
        f"- disagreements adjudicated into the gold labels: {adjudicated} "
        f"(decisions with notes in `adjudication.csv`)",
        f"- labels corrected after the label audit: {sum('correction' in r for r in gold)} "
        f"(notes in `corrections.csv`; the record keeps the passes' label in `correction`)",
    ]
    return "\n".join(parts)


def written_section(gold: list[dict], first: list[dict], second: list[dict]) -> str:
    """The generated part for the statements the project wrote: counts per batch and kind,
    the blind second pass's agreement with the writers, adjudication."""
    result = agreement(first, second)
    kind_header, kind_rows = _rows(gold, "kind")
    kind_rows = sorted(kind_rows[:-1], key=lambda r: (-int(r[-1]), r[0])) + kind_rows[-1:]
    conf_rows = [[lab, *map(str, row)] for lab, row in zip(result.labels, result.confusion)]
    return "\n".join([
        f"### Counts ({len(gold)} statements, {len({r['document'] for r in gold})} writing batches)",
        "",
        markdown_table(*_rows(gold, "document")),
        "",
        "Per kind (the writer's tag):",
        "",
        markdown_table(kind_header, kind_rows),
        "",
        "### Agreement before adjudication (writers vs the blind second pass)",
        "",
        *_agreement_lines(result),
        "",
        "Confusion table (rows: writers, columns: blind pass):",
        "",
        markdown_table(["", *result.labels], conf_rows),
        "",
        "### Adjudication and corrections",
        "",
        f"- disagreements adjudicated: {sum('adjudication' in r for r in gold)} (`written/adjudication.csv`)",
        f"- labels corrected after the audit: {sum('correction' in r for r in gold)}",
    ])


def render_datasheet(current: str, *, gold: str, first: str, second: str, guidelines: str,
                     written: tuple[str, str, str] | None = None) -> str:
    """``current`` with its generated sections replaced by fresh figures (``written``: the gold
    file and two passes of the written statements, for their own section)."""
    section = datasheet_section(read_records(gold), read_records(first), read_records(second),
                                read_text(Path(guidelines), "guidelines"))
    current = replace_section(current, section, BEGIN, END)
    if written is not None:
        current = replace_section(current, written_section(*(read_records(p) for p in written)), BEGIN_WRITTEN, END)
    return current
