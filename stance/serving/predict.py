"""Classify new statements with a logged model: from Python, or through ``stance predict``.

>>> from stance.serving.predict import predict
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

from stance.tracking.store import CHAMPION_URI, default_tracking_uri
from stance.errors import StanceError
from stance.io import TABLE_KINDS, parse_table
from stance.labels import LABELS
from stance.scores import in_label_order

log = logging.getLogger(__name__)

DEFAULT_MODEL = CHAMPION_URI
#: Statements per call to the model (the model batches inside); the progress bar advances per chunk.
CHUNK = 512
#: Inputs longer than this many statements get a progress bar.
PROGRESS_FROM = 2 * CHUNK
#: The columns of a prediction.
COLUMNS = ["id", "text", "target", "label", "confidence", *(f"p_{label}" for label in LABELS)]


@dataclass
class Statements:
    """Statements to classify (``rows``: dicts with id, text, target), and how many blank ones
    were skipped. ``frame`` gives them as a DataFrame."""

    rows: list[dict]
    blank: int = 0

    @property
    def frame(self):
        import pandas as pd

        return pd.DataFrame(self.rows, columns=["id", "text", "target"])


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
    return Statements(kept, blank)


class LeanPredictor:
    """A model read from its lean artefact (numpy, onnxruntime, tokenizers: no MLflow, no torch)."""

    def __init__(self, model, precision: str):
        self.model, self.how = model, f"lean {getattr(model, 'precision', precision)}"  # as it runs

    def scores(self, texts: list[str], targets: list[str | None]):
        return in_label_order(self.model.predict_proba(texts, targets), self.model.classes_)

    def class_prior(self):
        if not len(self.model.class_prior_):
            raise StanceError("this model records no training label mix: retrain it to use a prior shift")
        return in_label_order(self.model.class_prior_, self.model.classes_)

    def truncated(self, texts: list[str], targets: list[str | None]):
        return self.model.truncated(texts)

    def input_limit(self):
        return self.model.input_limit()


class MlflowPredictor:
    """A model loaded through MLflow's pyfunc flavour (any family; imports MLflow and torch)."""

    how = "mlflow"

    def __init__(self, model):
        self.model = model
        self.estimator = getattr(model.unwrap_python_model(), "estimator", None)

    @staticmethod
    def _frame(texts, targets):
        import pandas as pd

        return pd.DataFrame({"text": texts, "target": targets})

    def scores(self, texts: list[str], targets: list[str | None]):
        return self.model.predict(self._frame(texts, targets))[list(LABELS)].to_numpy()

    def class_prior(self):
        from stance.models.base import prior_by_label

        return prior_by_label(self.estimator, LABELS)

    def truncated(self, texts: list[str], targets: list[str | None]):
        import numpy as np

        if self.estimator is None:
            return np.zeros(len(texts), dtype=bool)
        return self.estimator.truncated(self._frame(texts, targets))

    def input_limit(self):
        return None if self.estimator is None else self.estimator.input_limit()


@functools.lru_cache(maxsize=8)
def load(model_uri: str = DEFAULT_MODEL, tracking_uri: str | None = None, lean: bool = True,
         precision: str = "fp32"):
    """The model behind a URI, ready to predict (cached per process).

    With ``lean`` (the default) it is read from its lean artefact (:mod:`stance.serving.onnx`), built
    once from the logged model and checked against the store on every load; a model family
    without a lean form, or a store that cannot be asked cheaply, loads through MLflow.
    ``precision="int8"`` uses the int8 copy of the sentence encoder.
    """
    tracking_uri = tracking_uri or default_tracking_uri()
    if precision not in ("fp32", "int8"):
        raise StanceError(f"unknown precision '{precision}' (fp32 or int8)")
    if lean:
        from stance.serving.onnx.cache import open_lean

        model, fallback, notice = open_lean(model_uri, tracking_uri, precision)
        if model is not None:
            return LeanPredictor(model, precision)
        if notice:
            log.warning("%s", notice)
        if fallback is not None:
            return MlflowPredictor(fallback)
    from stance.tracking.registry import load_model

    return MlflowPredictor(load_model(model_uri, tracking_uri))


def _rows(statements, target: str | None) -> list[dict]:
    """Input rows (id, text, target) from strings, dicts or a DataFrame."""
    if isinstance(statements, str):
        statements = [statements]
    if hasattr(statements, "to_dict"):  # a DataFrame
        records = statements.to_dict(orient="records")
    else:
        statements = list(statements)
        if statements and isinstance(statements[0], dict):
            records = statements
        else:
            return read_statements(statements, target=target).rows
    rows = []
    for k, record in enumerate(records, start=1):
        given = record.get("target")
        rows.append({"id": str(record["id"]) if record.get("id") not in (None, "") else str(k),
                     "text": record["text"],
                     "target": given if isinstance(given, str) and given.strip() else target})
    return rows


def classify(statements, model_uri: str = DEFAULT_MODEL, tracking_uri: str | None = None,
             target: str | None = None, progress: bool | None = None,
             prior_shift: str | dict[str, float] | None = None, lean: bool = True,
             precision: str = "fp32") -> list[dict]:
    """:func:`predict` without pandas: one dict per statement (what the CLI writes)."""
    return score(load(model_uri, tracking_uri, lean, precision), _rows(statements, target), progress, prior_shift)


def score(model, rows: list[dict], progress: bool | None = None,
          prior_shift: str | dict[str, float] | None = None) -> list[dict]:
    """Prediction dicts for input rows (id, text, target) with a loaded model (:func:`load`)."""
    import numpy as np

    texts = [row["text"] for row in rows]
    targets = [row["target"] for row in rows]
    _warn_truncation(model, rows)
    chunks = range(0, len(rows), CHUNK)
    show = len(rows) >= PROGRESS_FROM if progress is None else progress
    if show:
        from rich.console import Console
        from rich.progress import track

        chunks = track(chunks, description="classifying", total=len(chunks), transient=True,
                       console=Console(stderr=True))
    scores = np.concatenate([model.scores(texts[start : start + CHUNK], targets[start : start + CHUNK])
                             for start in chunks])
    if prior_shift is not None:
        from stance.evaluation.prior_shift import shift

        scores = shift(scores, model.class_prior(), prior_shift, LABELS)
    out = []
    for row, proba in zip(rows, scores):
        best = int(np.argmax(proba))
        out.append({"id": row["id"], "text": row["text"], "target": row["target"], "label": LABELS[best],
                    "confidence": float(proba[best]),
                    **{f"p_{label}": float(p) for label, p in zip(LABELS, proba)}})
    return out


#: Extra columns of an article's predictions: where each statement is, and who speaks in it.
ARTICLE_COLUMNS = ["id", "start", "end", "holders", *COLUMNS[1:]]


def classify_article(path: str | Path, model_uri: str = DEFAULT_MODEL, tracking_uri: str | None = None,
                     target: str | None = None, lean: bool = True, precision: str = "fp32") -> tuple[list[dict], dict]:
    """Every statement of a new article (split as the corpus is, with its span) classified, and a
    summary: counts per label and the holders found (a pattern heuristic) with their labels."""
    from collections import Counter

    from stance.annotation.articles import holders, read_article
    from stance.annotation.corpus import extract_document
    from stance.labels import FOREIGN_TROOPS_TARGET

    text = read_article(path)
    statements = extract_document(Path(path).stem, text, target or FOREIGN_TROOPS_TARGET)
    if not statements:
        raise StanceError("no statements found in the article (only boilerplate?)", path=path)
    rows = [{"id": s["id"], "text": s["text"], "target": s["target"]} for s in statements]
    predicted = score(load(model_uri, tracking_uri or default_tracking_uri(), lean, precision), rows, progress=False)
    out, by_holder = [], {}
    for statement, row in zip(statements, predicted):
        found = holders(statement["text"])
        for holder in found:
            by_holder.setdefault(holder, Counter())[row["label"]] += 1
        out.append({**row, "start": statement["start"], "end": statement["end"], "holders": "; ".join(found)})
    counts = Counter(row["label"] for row in out)
    summary = {"article": str(path), "statements": len(out), "labels": {label: counts[label] for label in LABELS},
               "holders": [{"holder": holder, "statements": sum(c.values()), **{label: c[label] for label in LABELS}}
                           for holder, c in sorted(by_holder.items(), key=lambda item: -sum(item[1].values()))]}
    return out, summary


def summary_table(summary: dict):
    """An article summary as a rich table: one row per holder found, then the article's totals."""
    from stance.tables import rich_table

    rows = [[h["holder"], str(h["statements"]), *(str(h[label]) for label in LABELS)] for h in summary["holders"]]
    rows.append(["(whole article)", str(summary["statements"]), *(str(summary["labels"][label]) for label in LABELS)])
    return rich_table(["holder", "statements", *LABELS], rows, rule_before_last=True,
                      justify=["left", *["right"] * (1 + len(LABELS))])


def predict(statements, model_uri: str = DEFAULT_MODEL, tracking_uri: str | None = None, target: str | None = None,
            progress: bool | None = None, prior_shift: str | dict[str, float] | None = None, lean: bool = True,
            precision: str = "fp32"):
    """Classify statements (a list of strings, or a DataFrame with ``text`` and optional
    ``target`` and ``id``); returns a DataFrame with label, confidence and probabilities.

    ``prior_shift`` corrects for a label mix other than the training mix (:mod:`stance.evaluation.prior_shift`):
    ``"em"`` estimates the mix of these statements, ``{"oppose": 0.5, ...}`` gives it.
    ``lean=False`` loads the model through MLflow instead of its lean artefact; ``precision="int8"``
    uses the int8 sentence encoder.
    """
    import pandas as pd

    return pd.DataFrame(classify(statements, model_uri, tracking_uri, target, progress, prior_shift, lean, precision),
                        columns=COLUMNS)


def _warn_truncation(model, rows: list[dict]) -> None:
    if model.input_limit() is None:
        return
    too_long = model.truncated([r["text"] for r in rows], [r["target"] for r in rows])
    if too_long.any():
        ids = [row["id"] for row, cut in zip(rows, too_long) if cut][:5]
        log.warning("%d statement(s) longer than the model's limit of %s tokens were truncated (ids: %s)",
                    int(too_long.sum()), model.input_limit(), ", ".join(ids))


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
        import csv
        import io

        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=columns or COLUMNS, lineterminator="\n", extrasaction="ignore")
        writer.writeheader()
        writer.writerows(records(table))
        text = buffer.getvalue()
    elif fmt == "jsonl":
        text = "".join(json.dumps({k: row.get(k) for k in columns or COLUMNS}, ensure_ascii=False) + "\n"
                       for row in records(table))
    else:
        raise StanceError(f"unknown output format '{fmt}' (table, csv or jsonl)")
    if output is not None:
        atomic_write_text(output, text)
        return None
    return text
