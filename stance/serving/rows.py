"""What every prediction path reads: statements as rows (id, text, target), from arguments, files,
standard input, DataFrames, request bodies and Spark batches, through one normaliser
(:func:`statement_row`), so an id, a text and a missing target mean the same everywhere."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from stance.errors import StanceError
from stance.io import TABLE_KINDS, parse_table
from stance.labels import target_or


def statement_row(text: str, given_id, given_target, number: int, default_target: str | None) -> dict:
    """One input row: ``id`` as given (or the statement's 1-based ``number``), ``text`` stripped,
    ``target`` as given (or ``default_target`` when missing or blank)."""
    return {"id": str(given_id) if given_id not in (None, "") else str(number), "text": text.strip(),
            "target": target_or(given_target, default_target)}


@dataclass
class Statements:
    """Statements to classify (``rows``: dicts with id, text, target), and how many blank ones
    were skipped. ``frame`` gives them as a DataFrame.

    ``extra_columns`` are a table input's other columns (all but the text, target and id
    columns, in the input's order) and ``extra`` their values, one dict per row of ``rows``:
    what ``stance predict -i`` passes through to its output."""

    rows: list[dict]
    blank: int = 0
    extra_columns: list[str] = field(default_factory=list)
    extra: list[dict] = field(default_factory=list)

    @property
    def frame(self):
        import pandas as pd

        return pd.DataFrame(self.rows, columns=["id", "text", "target"])


def _decode(data: bytes, name: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise StanceError("not valid UTF-8", path=name, line=data[: exc.start].count(b"\n") + 1) from None


def _rows_from_text(text: str, name: str, kind: str,
                    text_column: str) -> tuple[list[str], list[tuple[int, dict]], int]:
    """Column names, ``(line, row)`` pairs and the number of blank lines of a plain, CSV/TSV or JSONL input."""
    if kind == "text":
        return [text_column], [(number, {text_column: line})
                               for number, line in enumerate(text.splitlines(), start=1)], 0
    names, rows, blank = parse_table(text, name, kind)
    if kind != "jsonl" and text_column not in names:
        raise StanceError(f"missing column '{text_column}' (columns: {', '.join(names) or 'none'})", path=name)
    for number, row in rows:
        if text_column not in row:
            raise StanceError(f"no '{text_column}' field", path=name, line=number)
    return names, rows, blank


def _kind(name: str, fmt: str | None) -> str:
    if fmt:
        return fmt
    suffix = Path(name).suffix.lower()
    return TABLE_KINDS.get(suffix, "text")


def read_statements(statements: Iterable[str] = (), *, path: str | Path | None = None, data: bytes | None = None,
                    name: str = "<stdin>", fmt: str | None = None, target: str | None = None,
                    text_column: str = "text", target_column: str = "target", id_column: str = "id") -> Statements:
    """Statements from arguments, a file or raw bytes, as input rows.

    Parameters
    ----------
    statements : iterable of str, default=()
        Statements given directly (one each); used when neither ``path`` nor ``data`` is.
    path : str or Path or None, default=None
        A file: plain text (one statement a line), CSV, TSV or JSONL with a text column.
    data : bytes or None, default=None
        Raw input (e.g. standard input), read as ``fmt`` or as plain text; ``name`` names it in errors.
    name : str, default="<stdin>"
        What errors call ``data``.
    fmt : {"text", "csv", "tsv", "jsonl"} or None, default=None
        The format; None: the file's suffix decides.
    target : str or None, default=None
        The target of statements whose own is missing or blank (None: the model's training target).
    text_column, target_column, id_column : str
        The columns (or JSONL keys) holding each statement's text, target and id; a missing id is
        the statement's line (or position) number.

    Returns
    -------
    Statements
        ``rows`` (dicts with id, text, target) and ``blank``, the number of blank statements skipped;
        for a CSV, TSV or JSONL input also ``extra_columns`` and ``extra``, the values of its other
        columns (a JSONL input's columns are its keys, in the order first seen).

    Raises
    ------
    stance.errors.StanceError
        A missing file, bytes that are not UTF-8, a missing text column, a malformed line, or no
        statement at all: one line naming the file and line.
    """
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise StanceError("input file not found", path=path)
        data, name = path.read_bytes(), str(path)
    if data is not None:
        names, rows, blank = _rows_from_text(_decode(data, name), name, _kind(name, fmt), text_column)
    else:
        names, rows, blank = [], [(k, {text_column: s}) for k, s in enumerate(statements, start=1)], 0
    extra_columns = [c for c in names if c not in (text_column, target_column, id_column)]
    kept, extra = [], []
    for number, row in rows:
        text = row.get(text_column)
        if not isinstance(text, str) or not text.strip():
            blank += 1
            continue
        kept.append(statement_row(text, row.get(id_column), row.get(target_column), number, target))
        extra.append({c: row.get(c) for c in extra_columns})
    if not kept:
        where = f" ({blank} blank skipped)" if blank else ""
        raise StanceError(f"no statements to classify{where}", path=None if data is None else name)
    return Statements(kept, blank, extra_columns, extra if extra_columns else [])


def rows_from(statements, target: str | None = None) -> list[dict]:
    """Input rows (id, text, target) from a string, strings, dicts or a DataFrame (``text`` and
    optional ``target`` and ``id``); strings are read as :func:`read_statements` reads arguments."""
    if isinstance(statements, str):
        statements = [statements]
    if hasattr(statements, "to_dict"):  # a DataFrame
        records = statements.to_dict(orient="records")
    else:
        statements = list(statements)
        if not statements or not isinstance(statements[0], dict):
            return read_statements(statements, target=target).rows
        records = statements
    return [statement_row(record["text"], record.get("id"), record.get("target"), number, target)
            for number, record in enumerate(records, start=1)]
