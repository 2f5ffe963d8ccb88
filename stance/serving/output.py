"""What every prediction path writes: the columns of a prediction, CSV and JSONL files (atomically),
and the terminal's tables."""

from __future__ import annotations

from pathlib import Path

from stance.errors import StanceError
from stance.io import dumps_jsonl
from stance.labels import LABELS

#: The columns of a prediction.
COLUMNS = ["id", "text", "target", "label", "confidence", *(f"p_{label}" for label in LABELS)]

#: Extra columns of an article's predictions: its document, date and URL, where each statement is, and
#: who holds it (``holder``: the holder of its stance, ``author`` when none; ``holders``: every one it names).
ARTICLE_COLUMNS = ["id", "document", "date", "url", "start", "end", "holder", "holders", *COLUMNS[1:]]


#: Prefix of an input column passed through whose name a prediction column already has.
RENAMED = "input_"


def pass_through(predictions: list[dict], extra_columns: list[str], extra: list[dict],
                 columns: list[str] | None = None) -> tuple[list[dict], list[str]]:
    """Predictions with the input's other columns added after the prediction columns.

    Parameters
    ----------
    predictions : list of dict
        One prediction per input row (:func:`stance.serving.predict.classify`).
    extra_columns : list of str
        The input's other columns, in its order (:class:`stance.serving.rows.Statements`).
    extra : list of dict
        Their values, one dict per prediction.
    columns : list of str or None, default=None
        The prediction columns (default :data:`COLUMNS`).

    Returns
    -------
    rows : list of dict
        The predictions with the extra values.
    columns : list of str
        The columns to write: the prediction columns, then the extra ones. An input column
        whose name a prediction column has (e.g. ``label`` when re-scoring a predictions file)
        never overwrites it: it is written as ``input_<name>`` (``input_input_<name>`` if that
        is taken too, and so on).
    """
    columns = list(columns or COLUMNS)
    taken, names = set(columns) | set(extra_columns), {}
    for column in extra_columns:
        name = column
        if name in columns:
            name = RENAMED + name
            while name in taken:
                name = RENAMED + name
            taken.add(name)
        names[column] = name
    rows = [{**row, **{names[c]: values.get(c) for c in extra_columns}} for row, values in zip(predictions, extra)]
    return rows, columns + [names[c] for c in extra_columns]


def records(table) -> list[dict]:
    """Predictions as a list of dicts, from :func:`classify` (already one) or a DataFrame."""
    if not hasattr(table, "to_dict"):
        return list(table)
    rows = table.to_dict(orient="records")
    for row in rows:  # a missing target is None, as classify gives it, not NaN
        if not isinstance(row.get("target"), str):
            row["target"] = None
    return rows


def predictions_table(table, width: int = 60):
    """Predictions as a rich Table: id, label, confidence, probabilities and the (shortened) text."""
    from stance.tables import rich_table

    header = ["id", "label", "confidence", *LABELS, "text"]
    rows = [[str(row["id"]), row["label"], f"{row['confidence']:.3f}", *(f"{row[f'p_{label}']:.3f}" for label in LABELS),
             row["text"] if len(row["text"]) <= width else row["text"][: width - 1] + "…"]
            for row in records(table)]
    return rich_table(header, rows, justify=["left", "left", *["right"] * (1 + len(LABELS)), "left"])


def write_predictions(table, output: str | Path | None = None, fmt: str = "table",
                      columns: list[str] | None = None) -> str | None:
    """Write predictions to a file, or render them as CSV or JSONL text.

    Parameters
    ----------
    table : list of dict or pandas.DataFrame
        Predictions, as :func:`stance.serving.predict.classify` or :func:`~stance.serving.predict.predict`
        return them.
    output : str or Path or None, default=None
        A ``.csv`` or ``.jsonl`` file, written atomically (a temporary file, then a rename); the
        suffix decides the format. None: return the text instead.
    fmt : {"table", "csv", "jsonl"}, default="table"
        The format when ``output`` is None; "table" returns None (the CLI prints a table).
    columns : list of str or None, default=None
        The columns to write, in order (default :data:`COLUMNS`).

    Returns
    -------
    str or None
        The CSV or JSONL text when ``output`` is None and ``fmt`` is not "table", else None.
    """
    from stance.io import atomic_write_text

    if output is not None:
        suffix = Path(output).suffix.lower()
        fmt = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}.get(suffix)
        if fmt is None:
            raise StanceError("output must end in .csv or .jsonl", path=output)
    if fmt == "table":
        return None
    if fmt == "csv":
        import csv
        import io

        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=columns or COLUMNS, lineterminator="\n", extrasaction="ignore")
        writer.writeheader()
        writer.writerows({k: _cell(v) for k, v in row.items()} for row in records(table))
        text = buffer.getvalue()
    elif fmt == "jsonl":
        text = dumps_jsonl([{k: row.get(k) for k in columns or COLUMNS} for row in records(table)])
    else:
        raise StanceError(f"unknown output format '{fmt}' (table, csv or jsonl)")
    if output is not None:
        atomic_write_text(output, text)
        return None
    return text


def _cell(value):
    """A CSV cell: lists and objects (from a JSONL input's passed-through fields) as JSON, None as empty."""
    if isinstance(value, (dict, list)):
        import json

        return json.dumps(value, ensure_ascii=False)
    return value


def summary_table(summary: dict):
    """An article summary as a rich table: one row per holder found, then the article's totals."""
    from stance.tables import rich_table

    rows = [[h["holder"], str(h["statements"]), *(str(h[label]) for label in LABELS)] for h in summary["holders"]]
    rows.append(["(whole article)", str(summary["statements"]), *(str(summary["labels"][label]) for label in LABELS)])
    return rich_table(["holder", "statements", *LABELS], rows, rule_before_last=True,
                      justify=["left", *["right"] * (1 + len(LABELS))])
