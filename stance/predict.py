"""Classify new statements with a logged model: from Python, or through ``stance predict``.

>>> from stance.predict import predict
>>> predict(["Moscow will never accept NATO soldiers in Ukraine."])   # the registered champion

Inputs are statements given directly, or a file: plain text (one statement a line), CSV/TSV
or JSONL with a text column (and optionally target and id columns). Blank statements are
skipped and counted. Outputs have ``id, text, target, label, confidence`` and one
``p_<label>`` probability column per label.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stance.config import CHAMPION_URI, default_tracking_uri
from stance.errors import StanceError
from stance.io import TABLE_KINDS, parse_table
from stance.labels import LABELS

log = logging.getLogger(__name__)

DEFAULT_MODEL = CHAMPION_URI
#: Statements per call to the model (the model batches inside); the progress bar advances per chunk.
CHUNK = 512
#: Inputs longer than this many statements get a progress bar.
PROGRESS_FROM = 2 * CHUNK


@dataclass
class Statements:
    """Statements to classify, and how many blank ones were skipped."""

    frame: Any  # DataFrame with id, text, target
    blank: int = 0


def _decode(data: bytes, name: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise StanceError("not valid UTF-8", path=name, line=data[: exc.start].count(b"\n") + 1) from None


def _rows_from_text(text: str, name: str, kind: str, text_column: str) -> tuple[list[tuple[int, dict]], int]:
    """``(line, row)`` pairs and the number of blank lines of a plain, CSV/TSV or JSONL input."""
    if kind == "text":
        return [(number, {text_column: line}) for number, line in enumerate(text.splitlines(), start=1)], 0
    names, rows, blank = parse_table(text, name, kind)
    if kind != "jsonl" and text_column not in names:
        raise StanceError(f"missing column '{text_column}' (columns: {', '.join(names) or 'none'})", path=name)
    for number, row in rows:
        if text_column not in row:
            raise StanceError(f"no '{text_column}' field", path=name, line=number)
    return rows, blank


def _kind(name: str, fmt: str | None) -> str:
    if fmt:
        return fmt
    suffix = Path(name).suffix.lower()
    return TABLE_KINDS.get(suffix, "text")


def read_statements(statements: Iterable[str] = (), *, path: str | Path | None = None, data: bytes | None = None,
                    name: str = "<stdin>", fmt: str | None = None, target: str | None = None,
                    text_column: str = "text", target_column: str = "target", id_column: str = "id") -> Statements:
    """Statements from arguments, a file (``path``) or raw bytes (``data``, e.g. standard input).

    ``fmt`` forces the format (text, csv, tsv, jsonl); otherwise the file suffix decides and
    bytes are read as plain text. ``target`` fills in a missing target.
    """
    import pandas as pd

    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise StanceError("input file not found", path=path)
        data, name = path.read_bytes(), str(path)
    if data is not None:
        rows, blank = _rows_from_text(_decode(data, name), name, _kind(name, fmt), text_column)
    else:
        rows, blank = [(k, {text_column: s}) for k, s in enumerate(statements, start=1)], 0
    kept = []
    for number, row in rows:
        text = row.get(text_column)
        if not isinstance(text, str) or not text.strip():
            blank += 1
            continue
        row_target = row.get(target_column)
        kept.append({
            "id": str(row[id_column]) if row.get(id_column) not in (None, "") else str(number),
            "text": text.strip(),
            "target": row_target if isinstance(row_target, str) and row_target.strip() else target,
        })
    if not kept:
        where = f" ({blank} blank skipped)" if blank else ""
        raise StanceError(f"no statements to classify{where}", path=None if data is None else name)
    return Statements(pd.DataFrame(kept, columns=["id", "text", "target"]), blank)


@functools.lru_cache(maxsize=4)
def load(model_uri: str = DEFAULT_MODEL, tracking_uri: str | None = None):
    """The pyfunc model behind a URI (cached: loading a transformer takes seconds)."""
    from stance.tracking.registry import load_model

    return load_model(model_uri, tracking_uri or default_tracking_uri())


def predict(statements, model_uri: str = DEFAULT_MODEL, tracking_uri: str | None = None, target: str | None = None,
            progress: bool | None = None, prior_shift: str | dict[str, float] | None = None):
    """Classify statements (a list of strings, or a DataFrame with ``text`` and optional
    ``target`` and ``id``); returns a DataFrame with label, confidence and probabilities.

    ``prior_shift`` corrects for a label mix other than the training mix (:mod:`stance.prior_shift`):
    ``"em"`` estimates the mix of these statements, ``{"oppose": 0.5, ...}`` gives it.
    """
    import pandas as pd

    if isinstance(statements, str):
        statements = [statements]
    frame = statements if isinstance(statements, pd.DataFrame) else read_statements(statements, target=target).frame
    frame = frame.reset_index(drop=True)
    if "id" not in frame.columns:
        frame.insert(0, "id", [str(k) for k in range(1, len(frame) + 1)])
    if "target" not in frame.columns:
        frame["target"] = target
    model = load(model_uri, tracking_uri)
    _warn_truncation(model, frame)
    chunks = range(0, len(frame), CHUNK)
    show = len(frame) >= PROGRESS_FROM if progress is None else progress
    if show:
        from rich.console import Console
        from rich.progress import track

        chunks = track(chunks, description="classifying", total=len(chunks), transient=True,
                       console=Console(stderr=True))
    parts = [model.predict(frame.iloc[start : start + CHUNK][["text", "target"]]) for start in chunks]
    scores = pd.concat(parts, ignore_index=True)
    if prior_shift is not None:
        from stance.models.base import prior_by_label
        from stance.prior_shift import shift

        shifted = shift(scores[list(LABELS)].to_numpy(), prior_by_label(model.unwrap_python_model().estimator),
                        prior_shift, LABELS)
        scores = pd.DataFrame(shifted, columns=list(LABELS))
        scores.insert(0, "label", [LABELS[i] for i in shifted.argmax(axis=1)])
    out = frame[["id", "text", "target"]].copy()
    out["label"] = scores["label"]
    out["confidence"] = scores[list(LABELS)].max(axis=1)
    for label in LABELS:
        out[f"p_{label}"] = scores[label]
    return out


def _warn_truncation(model, frame) -> None:
    estimator = getattr(model.unwrap_python_model(), "estimator", None)
    if estimator is None:
        return
    too_long = estimator.truncated(frame[["text", "target"]])
    if too_long.any():
        log.warning("%d statement(s) longer than the model's limit of %s tokens were truncated (ids: %s)",
                    int(too_long.sum()), estimator.input_limit(), ", ".join(frame["id"][too_long].head(5)))


def predictions_table(table, width: int = 60):
    """Predictions as a rich Table: id, label, confidence, probabilities and the (shortened) text."""
    from stance.tables import rich_table

    header = ["id", "label", "confidence", *LABELS, "text"]
    rows = [[str(row["id"]), row["label"], f"{row['confidence']:.3f}", *(f"{row[f'p_{label}']:.3f}" for label in LABELS),
             row["text"] if len(row["text"]) <= width else row["text"][: width - 1] + "…"]
            for row in table.to_dict(orient="records")]
    return rich_table(header, rows, justify=["left", "left", *["right"] * (1 + len(LABELS)), "left"])


def write_predictions(table, output: str | Path | None = None, fmt: str = "table") -> str | None:
    """Write predictions to a CSV/JSONL file (atomically; format from the suffix), or return them
    as CSV/JSONL text; ``fmt="table"`` returns None (the CLI prints a table)."""
    from stance.io import atomic_write_text

    if output is not None:
        suffix = Path(output).suffix.lower()
        fmt = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}.get(suffix)
        if fmt is None:
            raise StanceError("output must end in .csv or .jsonl", path=output)
    if fmt == "table":
        return None
    if fmt == "csv":
        text = table.to_csv(index=False)
    elif fmt == "jsonl":
        text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in table.to_dict(orient="records"))
    else:
        raise StanceError(f"unknown output format '{fmt}' (table, csv or jsonl)")
    if output is not None:
        atomic_write_text(output, text)
        return None
    return text
