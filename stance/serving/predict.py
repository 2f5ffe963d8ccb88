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
import logging
from pathlib import Path

from stance.errors import StanceError
from stance.labels import LABELS
from stance.scores import in_label_order
from stance.serving.output import COLUMNS
from stance.serving.precision import resolve
from stance.serving.rows import rows_from
from stance.tracking.store import CHAMPION_URI, default_tracking_uri

log = logging.getLogger(__name__)

DEFAULT_MODEL = CHAMPION_URI
#: Statements per call to the model (the model batches inside); the progress bar advances per chunk.
CHUNK = 512
#: Inputs longer than this many statements get a progress bar.
PROGRESS_FROM = 2 * CHUNK


class LeanPredictor:
    """A model read from its lean artefact (numpy, onnxruntime, tokenizers: no MLflow, no torch)."""

    def __init__(self, model, precision: str):
        self.model, self.how = model, f"lean {getattr(model, 'precision', precision)}"  # as it runs

    def scores(self, texts: list[str], targets: list[str | None]):
        """Probabilities in label order, and which statements the encoder cut (one tokenisation)."""
        proba, cut = self.model.predict_proba_cut(texts, targets)
        return in_label_order(proba, self.model.classes_), cut

    def class_prior(self):
        if not len(self.model.class_prior_):
            raise StanceError("this model records no training label mix: retrain it to use a prior shift")
        return in_label_order(self.model.class_prior_, self.model.classes_)

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
        """Probabilities in label order, and which statements the model cuts (asked of the estimator)."""
        proba = self.model.predict(self._frame(texts, targets))[list(LABELS)].to_numpy()
        return proba, self.truncated(texts, targets)

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
         precision: str = "auto"):
    """The model behind a URI, ready to predict (cached per process).

    With ``lean`` (the default) it is read from its lean artefact (:mod:`stance.serving.onnx`), built
    once from the logged model and checked against the store on every load; a model family
    without a lean form, or a store that cannot be asked cheaply, loads through MLflow.
    ``precision`` picks the copy of its ONNX graphs (:mod:`stance.serving.precision`); ``auto``
    means fp32 here, where the number of statements to come is not known.
    """
    tracking_uri = tracking_uri or default_tracking_uri()
    precision = resolve(precision)
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


def classify(statements, model_uri: str = DEFAULT_MODEL, tracking_uri: str | None = None,
             target: str | None = None, progress: bool | None = None,
             prior_shift: str | dict[str, float] | None = None, lean: bool = True,
             precision: str = "auto") -> list[dict]:
    """:func:`predict` without pandas: one dict per statement (what the CLI writes).

    Parameters are those of :func:`predict`; returns a list of dicts with the same keys as its columns.
    """
    rows = rows_from(statements, target)
    return score(load(model_uri, tracking_uri, lean, resolve(precision, len(rows))), rows, progress, prior_shift)


def score(model, rows: list[dict], progress: bool | None = None,
          prior_shift: str | dict[str, float] | None = None) -> list[dict]:
    """Score input rows with a model already loaded, the step every prediction path shares.

    Parameters
    ----------
    model : LeanPredictor or MlflowPredictor
        What :func:`load` returns.
    rows : list of dict
        Input rows with ``id``, ``text`` and ``target`` (:func:`stance.serving.rows.rows_from`).
    progress, prior_shift
        As in :func:`predict`.

    Returns
    -------
    list of dict
        One prediction per row; statements cut to the model's input limit are logged once, by id.
    """
    import numpy as np

    texts = [row["text"] for row in rows]
    targets = [row["target"] for row in rows]
    chunks = range(0, len(rows), CHUNK)
    show = len(rows) >= PROGRESS_FROM if progress is None else progress
    if show:
        from rich.console import Console
        from rich.progress import track

        chunks = track(chunks, description="classifying", total=len(chunks), transient=True,
                       console=Console(stderr=True))
    parts = [model.scores(texts[start : start + CHUNK], targets[start : start + CHUNK]) for start in chunks]
    scores = np.concatenate([proba for proba, _ in parts]) if parts else np.zeros((0, len(LABELS)))
    _warn_truncation(model, rows, np.concatenate([cut for _, cut in parts]) if parts else np.zeros(0, bool))
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


def classify_article(path: str | Path, model_uri: str = DEFAULT_MODEL, tracking_uri: str | None = None,
                     target: str | None = None, lean: bool = True, precision: str = "auto",
                     articles_dir: str | Path | None = None, date: str | None = None,
                     url: str | None = None) -> tuple[list[dict], dict]:
    """Every statement of an article classified, with its span, its holder and the article's metadata.

    Parameters
    ----------
    path : str or Path
        The article (plain text), split into statements as the corpus is.
    model_uri, tracking_uri, target, lean, precision
        As for :func:`predict`.
    articles_dir : str, Path or None, default=None
        The seeds folder of ``stance corpus add``: when the article's bytes are one listed in its
        ``articles.jsonl`` (same SHA-256), its document name, date and URL fill the ``document``,
        ``date`` and ``url`` columns and the statement ids are the corpus's.
    date, url : str or None, default=None
        The article's date (YYYY-MM-DD) and URL, for an article not in the corpus; given, they
        replace the index's.

    Returns
    -------
    rows : list of dict
        One prediction per statement, with ``document``, ``date``, ``url`` (empty strings when
        unknown), ``start``, ``end``, ``holder`` (:func:`stance.annotation.holders.attribute`, read
        with the article before the statement as context; ``author`` when it reports no one) and
        ``holders`` (every holder the statement names, ``; ``-separated).
    summary : dict
        Counts per label, and per holder with their labels.
    """
    from collections import Counter

    from stance.annotation.articles import check_date, check_url, indexed, read_article_bytes
    from stance.annotation.corpus import extract_document
    from stance.annotation.holders import attribute
    from stance.labels import FOREIGN_TROOPS_TARGET

    data, text = read_article_bytes(path)
    check_date(date)
    check_url(url)
    entry = indexed(articles_dir, data)
    meta = {"document": entry.get("document") or "", "date": date or entry.get("date") or "",
            "url": url or entry.get("url") or ""}
    statements = extract_document(meta["document"] or Path(path).stem, text, target or FOREIGN_TROOPS_TARGET)
    if not statements:
        raise StanceError("no statements found in the article (only boilerplate?)", path=path)
    rows = rows_from([{"id": s["id"], "text": s["text"], "target": s["target"]} for s in statements])
    model = load(model_uri, tracking_uri or default_tracking_uri(), lean, resolve(precision, len(rows)))
    predicted = score(model, rows, progress=False)
    out, by_holder = [], {}
    for statement, row in zip(statements, predicted):
        found = attribute(statement["text"], text[: statement["start"]])
        named = [] if found.kind == "author" else [found.holder, *found.others]
        by_holder.setdefault(found.holder, Counter())[row["label"]] += 1
        out.append({**row, **meta, "start": statement["start"], "end": statement["end"], "holder": found.holder,
                    "holders": "; ".join(named)})
    counts = Counter(row["label"] for row in out)
    summary = {"article": str(path), "statements": len(out), "labels": {label: counts[label] for label in LABELS},
               **meta,
               "holders": [{"holder": holder, "statements": sum(c.values()), **{label: c[label] for label in LABELS}}
                           for holder, c in sorted(by_holder.items(), key=lambda item: -sum(item[1].values()))]}
    return out, summary


def predict(statements, model_uri: str = DEFAULT_MODEL, tracking_uri: str | None = None, target: str | None = None,
            progress: bool | None = None, prior_shift: str | dict[str, float] | None = None, lean: bool = True,
            precision: str = "auto"):
    """Classify statements with a logged model.

    Parameters
    ----------
    statements : str, list of str, list of dict or pandas.DataFrame
        The statements: strings, or records / a DataFrame with a ``text`` column and optional
        ``target`` and ``id`` columns. Blank strings are skipped and counted.
    model_uri : str, default="models:/stance-foreign-troops@champion"
        Any MLflow model URI (``models:/name@alias``, ``models:/name/version``, ``runs:/id/model``).
    tracking_uri : str or None, default=None
        The MLflow store; None means ``$MLFLOW_TRACKING_URI``, else ``sqlite:///mlflow.db``.
    target : str or None, default=None
        The target for statements that name none; None means the model's training target.
    progress : bool or None, default=None
        Show a progress bar on stderr; None shows one from 1,024 statements.
    prior_shift : {"em"} or dict of str to float or None, default=None
        Correct for a label mix other than the training mix (:mod:`stance.evaluation.prior_shift`):
        ``"em"`` estimates the mix of these statements, ``{"oppose": 0.5, ...}`` gives it.
    lean : bool, default=True
        Predict from the exported ONNX artefact (no MLflow or torch); False loads the model
        through MLflow's pyfunc flavour.
    precision : {"auto", "fp32", "w8", "int8"}, default="auto"
        Which copy of the model's ONNX graphs the lean path runs (:mod:`stance.serving.precision`):
        ``auto`` takes the 8-bit weights (``w8``) for up to 64 statements, where loading is most of
        the time, and fp32 for more; a model without the copy asked for runs fp32, with a notice.

    Returns
    -------
    pandas.DataFrame
        One row per statement, columns :data:`stance.serving.output.COLUMNS`: ``id, text, target,
        label, confidence`` and one ``p_<label>`` probability per label.

    Raises
    ------
    stance.errors.StanceError
        No statements, an unknown model or store, or a bad ``prior_shift``: one line saying which.
    """
    import pandas as pd

    return pd.DataFrame(classify(statements, model_uri, tracking_uri, target, progress, prior_shift, lean, precision),
                        columns=COLUMNS)


def _warn_truncation(model, rows: list[dict], too_long) -> None:
    if too_long.any():
        ids = [row["id"] for row, cut in zip(rows, too_long) if cut][:5]
        log.warning("%d statement(s) longer than the model's limit of %s tokens were truncated (ids: %s)",
                    int(too_long.sum()), model.input_limit(), ", ".join(ids))


