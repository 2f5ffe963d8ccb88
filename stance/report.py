"""Tables for the terminal (rich) and for Markdown, and the datasheet's generated section."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

from stance.agreement import Agreement, agreement
from stance.corpus import label_columns, label_table
from stance.errors import StanceError

BEGIN = "<!-- BEGIN GENERATED: stance annotations datasheet -->"
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
    from rich.table import Table

    header, rows = _rows(records, by)
    table = Table(title=title or None)
    for k, name in enumerate(header):
        table.add_column(name, justify="left" if k == 0 else "right")
    for k, row in enumerate(rows):
        table.add_row(*row, end_section=k == len(rows) - 2)
    return table


def agreement_table(result: Agreement, first: str, second: str):
    """The confusion table of two passes as a rich Table (rows: first pass)."""
    from rich.table import Table

    table = Table(title=f"rows: {first}, columns: {second}")
    table.add_column("")
    for lab in result.labels:
        table.add_column(lab, justify="right")
    for lab, row in zip(result.labels, result.confusion):
        table.add_row(lab, *map(str, row))
    return table


def markdown_table(header: list[str], rows: list[list[str]], align: list[str] | None = None) -> str:
    align = align or ["---"] + ["---:"] * (len(header) - 1)
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


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
        BEGIN,
        "",
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
        "",
        END,
    ]
    return "\n".join(parts)


def render_datasheet(current: str, *, gold: str, first: str, second: str, guidelines: str) -> str:
    """``current`` with its generated section replaced by fresh figures."""
    from stance.annotations import read_records
    from stance.io import read_text

    if BEGIN not in current or END not in current:
        raise StanceError(f"no generated section: add the lines '{BEGIN}' and '{END}'")
    section = datasheet_section(read_records(gold), read_records(first), read_records(second),
                                read_text(Path(guidelines), "guidelines"))
    pattern = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), re.DOTALL)
    return pattern.sub(lambda _: section, current, count=1)


LEADERBOARD_COLUMNS = ("model", "eval", "macro-F1 (95% CI)", "F_avg", "accuracy", "fit s", "status")


def leaderboard_rows(rows: list[dict[str, Any]]) -> list[list[str]]:
    """Leaderboard cells, best macro-F1 first; runs without metrics (failed) last."""

    def cell(metrics: dict[str, float], name: str, digits: int = 3) -> str:
        value = metrics.get(name)
        return "-" if value is None else f"{value:.{digits}f}"

    from stance.compare import common_overrides, label_of

    common = common_overrides(rows)
    ordered = sorted(rows, key=lambda r: -r["metrics"].get("macro_f1_mean", float("-inf")))
    table = []
    for row in ordered:
        m = row["metrics"]
        score = cell(m, "macro_f1_mean")
        if "macro_f1_ci_low" in m:
            score += f" [{m['macro_f1_ci_low']:.3f}, {m['macro_f1_ci_high']:.3f}]"
        table.append([label_of(row["model"], row.get("overrides", "").split(), common), row["eval"], score, cell(m, "f_avg_mean"), cell(m, "accuracy_mean"),
                      cell(m, "fit_seconds_mean", 1), row["status"]])
    return table


def print_leaderboard(rows: list[dict[str, Any]], title: str = "") -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title or None)
    for k, name in enumerate(LEADERBOARD_COLUMNS):
        table.add_column(name, justify="left" if k < 2 or k == 6 else "right")
    for cells in leaderboard_rows(rows):
        table.add_row(*cells)
    Console(highlight=False, width=None if sys.stdout.isatty() else 132).print(table)


def predictions_table(table, width: int = 60):
    """Predictions as a rich Table: id, label, confidence, probabilities and the (shortened) text."""
    from rich.table import Table

    from stance.labels import LABELS

    out = Table()
    for name in ("id", "label", "confidence", *LABELS, "text"):
        out.add_column(name, justify="right" if name in ("confidence", *LABELS) else "left")
    for row in table.to_dict(orient="records"):
        text = row["text"] if len(row["text"]) <= width else row["text"][: width - 1] + "…"
        out.add_row(str(row["id"]), row["label"], f"{row['confidence']:.3f}",
                    *(f"{row[f'p_{label}']:.3f}" for label in LABELS), text)
    return out


ERROR_COLUMNS = ("id", "document", "holder", "gold", "predicted", "confidence", "text")


def misclassified(predictions):
    """The out-of-fold predictions that are wrong, most confident first (a DataFrame)."""
    wrong = predictions[predictions["gold"] != predictions["predicted"]].rename(columns={"group": "document"})
    return wrong.sort_values(["confidence", "id"], ascending=[False, True], kind="stable")[list(ERROR_COLUMNS)]


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def errors_markdown(errors, title: str = "Misclassified statements") -> str:
    """The misclassified statements as a Markdown page: gold-to-predicted counts, then each one."""
    from collections import Counter

    pairs = Counter(zip(errors["gold"], errors["predicted"]))
    lines = [f"# {title}", "", f"{len(errors)} statements misclassified out of fold, most confident first.", ""]
    if pairs:
        lines += [markdown_table(["gold", "predicted", "statements"],
                                 [[g, p, str(n)] for (g, p), n in pairs.most_common()], ["---", "---", "---:"]), ""]
        lines.append(markdown_table(
            ["gold", "predicted", "confidence", "holder", "document", "statement"],
            [[r["gold"], r["predicted"], f"{r['confidence']:.3f}", _cell(r["holder"]), _cell(r["document"]),
              _cell(r["text"])] for r in errors.to_dict(orient="records")],
            ["---", "---", "---:", "---", "---", "---"]))
    return "\n".join(lines) + "\n"
