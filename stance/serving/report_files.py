"""``stance report``: predictions files in, a report folder out (Markdown, optional HTML with the
figures embedded, PNG figures and one CSV table per view), every file written atomically.

Reading checks each file (a missing file, no label column, an unknown label, a date that is not
``YYYY-MM-DD``: one line naming the file and line); the aggregation itself is
:mod:`stance.evaluation.aggregate`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from stance.errors import StanceError
from stance.evaluation.aggregate import (
    N_RESAMPLES,
    VIEWS,
    GroupStance,
    View,
    aggregate,
    outlet_of,
    overall,
    parse_date,
)
from stance.labels import LABELS

#: The columns that give each view its groups (the first one found is used).
SOURCES = {"holder": ("holder", "holders"), "outlet": ("outlet", "url"), "article": ("document", "url"),
           "week": ("date",)}

#: How to get a view's column when the predictions lack it.
HOW = {
    "holder": "a 'holder' (or 'holders') column: predict with --article, or add a holder column to the input "
              "of stance predict -i (extra columns are passed through)",
    "outlet": "a 'url' (or 'outlet') column: predict with --article, or add a url column to the input of "
              "stance predict -i (extra columns are passed through)",
    "article": "a 'document' (or 'url') column: predict with --article, or add a document or url column to the "
               "input of stance predict -i (extra columns are passed through)",
    "week": "a 'date' column (YYYY-MM-DD): add one to the input of stance predict -i (extra columns are "
            "passed through)",
}

#: Every file a report may write (a new report removes the ones it does not write again).
FIGURES = {"week": "stance_over_time.png", "holder": "holders.png"}
FILES = ("report.md", "report.html", *FIGURES.values(), *(f"by_{view}.csv" for view in VIEWS))


@dataclass
class Predictions:
    """Predictions read for a report: one record per statement (label, holders, article, outlet,
    date), the columns seen in any file and the files read."""

    records: list[dict]
    columns: set[str]
    files: list[str]


@dataclass
class Report:
    """What :func:`build_report` made."""

    folder: Path
    files: list[Path]
    views: dict[str, View]
    overall: GroupStance
    predictions: Predictions
    metrics: dict[str, float] = field(default_factory=dict)


# ----------------------------------------------------------------------------- reading
def read_predictions(paths, labels=LABELS) -> Predictions:
    """Predictions files (CSV, TSV or JSONL, as ``stance predict`` writes them) as records.

    Parameters
    ----------
    paths : sequence of str or Path
    labels : sequence of str, default=LABELS
        The labels a prediction may have.

    Returns
    -------
    Predictions

    Raises
    ------
    stance.errors.StanceError
        A missing or unreadable file, no ``label`` column, an unknown label or an unparsable
        date: one line naming the file (and line, and value).
    """
    from stance.io import TABLE_KINDS, parse_table, read_text

    records, columns, files = [], set(), []
    for path in paths:
        path = Path(path)
        kind = TABLE_KINDS.get(path.suffix.lower())
        if not path.is_file():
            raise StanceError("predictions file not found", path=path)
        if kind is None:
            raise StanceError("expected a .csv, .tsv or .jsonl file of predictions (stance predict -o)", path=path)
        names, rows, _ = parse_table(read_text(path, "predictions file"), path, kind)
        if "label" not in names:
            raise StanceError(f"no 'label' column (columns: {', '.join(names) or 'none'}): give the output of "
                              "stance predict", path=path)
        if not rows:
            raise StanceError("no predictions in the file", path=path)
        columns.update(names)
        records.extend(_record(row, path, line, labels) for line, row in rows)
        files.append(str(path))
    if not files:
        raise StanceError("no predictions files given")
    return Predictions(records, columns, files)


def _text(value) -> str:
    return "" if value is None else str(value).strip()


def _record(row: dict, path: Path, line: int, labels) -> dict:
    label = row.get("label")
    if label not in labels:
        shown = "no label" if label in (None, "") else f"unknown label '{label}'"
        raise StanceError(f"{shown} (expected {', '.join(labels)})", path=path, line=line)
    date = _text(row.get("date"))
    if date:
        try:
            date = parse_date(date)
        except ValueError:
            raise StanceError(f"unparsable date '{date}' (expected YYYY-MM-DD)", path=path, line=line) from None
    holders = row.get("holder") or row.get("holders")  # one holder, or several joined by ';' (or a JSON list)
    holders = [_text(h) for h in holders] if isinstance(holders, list) else _text(holders).split(";")
    url = _text(row.get("url"))
    return {"label": label, "holders": [h.strip() for h in holders if h.strip()],
            "article": _text(row.get("document")) or url or None,
            "outlet": _text(row.get("outlet")) or (outlet_of(url) if url else None), "date": date or None}


def views_for(columns: set[str], by: list[str] | None = None) -> list[str]:
    """The views to report: ``by`` (each checked against the columns), or all that the columns allow.

    Raises
    ------
    stance.errors.StanceError
        An unknown view, or one whose column is missing (the message says how to get it).
    """
    if by is None:
        chosen = [view for view in VIEWS if any(c in columns for c in SOURCES[view])]
        if not chosen:
            raise StanceError("nothing to group by: the predictions have no holder(s), document, url, outlet or "
                              "date column (add them to the input of stance predict -i, or predict with --article)")
        return chosen
    for view in by:
        if view not in VIEWS:
            raise StanceError(f"unknown grouping '{view}' for --by (choose from {', '.join(VIEWS)})")
        if not any(c in columns for c in SOURCES[view]):
            raise StanceError(f"--by {view} needs {HOW[view]}")
    return list(dict.fromkeys(by))


# ----------------------------------------------------------------------------- the report
def build_report(paths, out: str | Path = "report", by: list[str] | None = None, min_n: int = 1,
                 html: bool = False, n_resamples: int = N_RESAMPLES, seed: int = 0,
                 confidence: float = 0.95) -> Report:
    """Read predictions, aggregate them by view and write the report folder.

    Parameters
    ----------
    paths : sequence of str or Path
        Predictions files (:func:`read_predictions`).
    out : str or Path, default="report"
        The folder: ``report.md``, ``report.html`` (with ``html``), ``by_<view>.csv`` per view,
        ``stance_over_time.png`` (week view) and ``holders.png`` (holder view). Files of an earlier
        report that this one does not write are removed; other files are left alone.
    by : list of str or None, default=None
        Views among holder, outlet, article, week; None: all that the columns allow.
    min_n : int, default=1
        Groups with fewer statements are left out of tables and figures (counted in the report).
    html : bool, default=False
    n_resamples, seed, confidence
        The bootstrap (:mod:`stance.evaluation.aggregate`).

    Returns
    -------
    Report
    """
    from stance.serving.report_pages import render

    predictions = read_predictions(paths)
    views = aggregate(predictions.records, views_for(predictions.columns, by), min_n=min_n,
                      n_resamples=n_resamples, seed=seed, confidence=confidence)
    everything = overall(predictions.records, n_resamples=n_resamples, seed=seed, confidence=confidence)
    folder = Path(out)
    if folder.exists() and not folder.is_dir():
        raise StanceError("exists and is not a folder", path=folder)
    written = []
    for name, view in views.items():
        written.append(_write_csv(folder / f"by_{name}.csv", [g.row() for g in view.groups], name))
    images = _figures(views)
    for name, data in images.items():
        written.append(_write_bytes(folder / name, data))
    settings = {"min_n": min_n, "n_resamples": n_resamples, "seed": seed, "confidence": confidence}
    markdown, page = render(views, everything, predictions, settings, images, html)
    written.append(_write_text(folder / "report.md", markdown))
    if html:
        written.append(_write_text(folder / "report.html", page))
    for stale in set(FILES) - {p.name for p in written}:
        (folder / stale).unlink(missing_ok=True)
    return Report(folder, written, views, everything, predictions, summary_metrics(views, everything, predictions))


def summary_metrics(views: dict[str, View], everything: GroupStance, predictions: Predictions) -> dict[str, float]:
    """The report's headline numbers (what ``--log`` records in MLflow)."""
    metrics = {"statements": everything.n, "files": len(predictions.files), "net": everything.net,
               "net_low": everything.net_ci[0], "net_high": everything.net_ci[1]}
    metrics.update({f"share_{label}": share for label, share in everything.shares.items()})
    for name, view in views.items():
        metrics[f"groups_{name}"] = len(view.groups)
        metrics[f"omitted_groups_{name}"] = view.omitted_groups
    dates = [r["date"] for r in predictions.records if r["date"]]
    if dates:
        metrics["days_covered"] = (max(dates) - min(dates)).days + 1
    return {key: float(value) for key, value in metrics.items()}


def _figures(views: dict[str, View]) -> dict[str, bytes]:
    from stance.serving.report_figures import holders_figure, png_bytes, weekly_figure

    images = {}
    if "week" in views and views["week"].groups:
        images[FIGURES["week"]] = png_bytes(weekly_figure(views["week"].groups, LABELS))
    if "holder" in views and views["holder"].groups:
        images[FIGURES["holder"]] = png_bytes(holders_figure(views["holder"].groups))
    return images


def _write_csv(path: Path, rows: list[dict], view: str) -> Path:
    import csv
    import io

    header = [view, "n", "articles", *(f"n_{label}" for label in LABELS)]
    header += [f"share_{label}{end}" for label in LABELS for end in ("", "_low", "_high")]
    header += ["net", "net_low", "net_high"]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return _write_text(path, buffer.getvalue())


def _write_text(path: Path, text: str) -> Path:
    from stance.io import atomic_write_text

    atomic_write_text(path, text)
    return path


def _write_bytes(path: Path, data: bytes) -> Path:
    from stance.io import atomic_write_bytes

    atomic_write_bytes(path, data)
    return path
