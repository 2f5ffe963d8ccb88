"""The pages of ``stance report``: one list of blocks (headings, paragraphs, tables, figures)
rendered as Markdown (figures linked beside it) and as a self-contained HTML page (figures
embedded as base64 PNG). Pure text: :mod:`stance.serving.report_files` writes the files."""

from __future__ import annotations

import html as html_lib
from collections import Counter

from stance.labels import LABELS

TITLES = {"holder": "By holder", "outlet": "By outlet", "article": "By article", "week": "By ISO week"}
NOTES = {
    "holder": "A statement with several holders counts once for each. Sorted by net stance, most supportive first.",
    "outlet": "Outlet: the `outlet` column, else the host of the statement's `url` without `www.`.",
    "article": "Article: the `document` column, else the `url`.",
    "week": "ISO 8601 weeks (Monday to Sunday; the first week of a year is the one with its first Thursday), "
            "from the `date` column.",
}
FIGURE_OF = {"week": ("stance_over_time.png", "Weekly shares of each label with 95% CI bands; statements per week below."),
             "holder": ("holders.png", "Holders on the net-stance axis with 95% CI error bars.")}


def _interval(value: float, ci: tuple[float, float], signed: bool = False) -> str:
    form = "{:+.2f}" if signed else "{:.2f}"
    return f"{form.format(value)} [{form.format(ci[0])}, {form.format(ci[1])}]"


def _group_rows(view) -> tuple[list[str], list[list[str]]]:
    header = [view.name, "n", "articles", *LABELS, "net stance"]
    rows = [[g.group, str(g.n), str(g.articles), *(_interval(g.shares[label], g.ci[label]) for label in LABELS),
             _interval(g.net, g.net_ci, signed=True)] for g in view.groups]
    return header, rows


def blocks(views: dict, everything, predictions, settings: dict, images: dict[str, bytes]) -> list[tuple]:
    """The report as blocks: ``("h1"|"h2"|"p", text)``, ``("table", header, rows)``, ``("img", name, caption)``."""
    records = predictions.records
    counts = Counter(r["label"] for r in records)
    dates = sorted(r["date"] for r in records if r["date"])
    out: list[tuple] = [("h1", "Stance report")]
    files = ", ".join(f"`{name}`" for name in predictions.files)
    summary = (f"{len(records)} statements from {len(predictions.files)} predictions file(s) ({files}): "
               + ", ".join(f"{counts[label]} {label}" for label in LABELS) + ".")
    if dates:
        weeks = len(views["week"].groups) if "week" in views else None
        summary += f" Dates from {dates[0]} to {dates[-1]}" + (f" ({weeks} ISO weeks shown)." if weeks else ".")
        if len(dates) < len(records):
            summary += f" {len(records) - len(dates)} statement(s) have no date."
    out.append(("p", summary))
    out.append(("table", ["", "n", "articles", *LABELS, "net stance"],
                [["all statements", str(everything.n), str(everything.articles),
                  *(_interval(everything.shares[label], everything.ci[label]) for label in LABELS),
                  _interval(everything.net, everything.net_ci, signed=True)]]))
    rows = [[TITLES[name].removeprefix("By "), str(len(view.groups)), str(view.omitted_groups),
             str(view.omitted_statements), str(view.without), view.resampled] for name, view in views.items()]
    out.append(("table", ["view", "groups shown", f"groups under {settings['min_n']} statements (left out)",
                          "their statements", "statements without a value", "bootstrap resamples"], rows))
    out.append(("h2", "What the intervals mean"))
    out.append(("p", (f"Each share is the fraction of a group's statements the model labelled so; the brackets give "
                 f"a {settings['confidence']:.0%} percentile bootstrap interval ({settings['n_resamples']} "
                 f"resamples, seed {settings['seed']}). Statements of one article are correlated, so where articles "
                 "are known a resample draws the group's articles with replacement, then each drawn article's "
                 "statements (two-stage; a group from one article resamples its statements). The net stance "
                 "index is (support - oppose) / n, from -1 (all oppose) to +1 (all support), with its interval "
                 "from the same resamples. The intervals cover sampling variation among the statements found; "
                 "not the model's own errors (its labels are taken as given), nor which articles were collected. "
                 "Small groups have wide intervals: compare groups whose intervals do not overlap.")))
    for name, view in views.items():
        out.append(("h2", TITLES[name]))
        note = NOTES[name]
        if view.omitted_groups:
            note += (f" {view.omitted_groups} group(s) with fewer than {settings['min_n']} statements "
                     f"({view.omitted_statements} statements) are left out.")
        out.append(("p", note))
        if name in FIGURE_OF and FIGURE_OF[name][0] in images:
            out.append(("img", *FIGURE_OF[name]))
        if view.groups:
            out.append(("table", *_group_rows(view)))
        else:
            out.append(("p", "No group to show."))
    return out


def _md_cell(text: str) -> str:
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").replace("\r", " ")


def markdown(page: list[tuple]) -> str:
    """Blocks as Markdown (figures as links to the PNG files beside the page)."""
    from stance.tables import markdown_table

    parts = []
    for kind, *rest in page:
        if kind == "h1":
            parts.append(f"# {rest[0]}")
        elif kind == "h2":
            parts.append(f"## {rest[0]}")
        elif kind == "p":
            parts.append(rest[0])
        elif kind == "img":
            parts.append(f"![{rest[1]}]({rest[0]})")
        elif kind == "table":
            header, rows = rest
            parts.append(markdown_table([_md_cell(h) for h in header], [[_md_cell(c) for c in row] for row in rows]))
    return "\n\n".join(parts) + "\n"


def html(page: list[tuple], images: dict[str, bytes]) -> str:
    """Blocks as one self-contained HTML page (figures embedded as base64 PNG)."""
    import base64
    import re

    def inline(text: str) -> str:  # `code` spans, the one Markdown mark the paragraphs use
        return re.sub(r"`([^`]+)`", r"<code>\1</code>", html_lib.escape(text))

    body = []
    for kind, *rest in page:
        if kind in ("h1", "h2"):
            body.append(f"<{kind}>{html_lib.escape(rest[0])}</{kind}>")
        elif kind == "p":
            body.append(f"<p>{inline(rest[0])}</p>")
        elif kind == "img":
            data = base64.b64encode(images[rest[0]]).decode("ascii")
            body.append(f'<figure><img alt="{html_lib.escape(rest[1])}" src="data:image/png;base64,{data}">'
                        f"<figcaption>{html_lib.escape(rest[1])}</figcaption></figure>")
        elif kind == "table":
            header, rows = rest
            head = "".join(f"<th>{html_lib.escape(h)}</th>" for h in header)
            lines = "".join("<tr>" + "".join(f"<td>{html_lib.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
            body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{lines}</tbody></table>")
    style = ("body{font-family:sans-serif;max-width:70em;margin:2em auto;padding:0 1em}"
             "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.2em .5em}"
             "td+td,th+th{text-align:right}img{max-width:100%}")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Stance report</title>"
            f"<style>{style}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")


def render(views: dict, everything, predictions, settings: dict, images: dict[str, bytes],
           with_html: bool = False) -> tuple[str, str | None]:
    """The report's Markdown, and its HTML page (None unless ``with_html``)."""
    page = blocks(views, everything, predictions, settings, images)
    return markdown(page), html(page, images) if with_html else None
