"""Explain predictions of a logged model: for each statement the label, its probability and the
words that moved it most, signed (``stance explain``).

Two methods (the math is in :mod:`stance.evaluation.attribution`):

* ``occlusion`` works for every model family: each word is removed in turn and the fall of the
  predicted label's probability is its weight (all perturbed copies of a statement are scored in
  one call to the model's ``scores``, lean or through MLflow).
* ``linear`` is exact for the linear TF-IDF models (``tfidf_logreg``, ``tfidf_svm``): each n-gram
  feature's tf-idf value times its weight for the predicted label, mapped onto words. The weight is
  the label's row of the head minus the mean row over labels, so the weights (plus ``rest``) sum to
  the label's score minus the mean score over labels, where the scores are those the head turns into
  probabilities: the logits of logistic regression (softmax; a two-class model's scores are
  ``(0, z)``), the decision values of a linear SVM (softmax; ``(-s, s)`` with two classes), and for
  a sigmoid-calibrated SVM the calibrated logits ``-(a s + b)`` of each class, averaged over the
  calibration folds. ``rest`` is the intercepts' part, the target's one-hot features and character
  n-grams that touch no word.

``auto`` picks ``linear`` where every part of the model is TF-IDF or one-hot features under such a
head, else ``occlusion``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from stance.errors import StanceError
from stance.labels import LABELS, target_or
from stance.serving.precision import resolve
from stance.serving.predict import DEFAULT_MODEL, load
from stance.serving.rows import rows_from

METHODS = ("auto", "occlusion", "linear")
#: What a weight is measured in, per method.
UNITS = {"occlusion": "probability", "linear": "decision score"}
LINEAR_HEADS = ("logistic", "decision_softmax", "calibrated_ovr")


# --------------------------------------------------------------------------- the linear form
def linear_form(model) -> tuple[dict, dict] | None:
    """``(spec, arrays)`` of a model loaded by :func:`stance.serving.predict.load` when it is a pure
    linear TF-IDF model (lean spec format, :mod:`stance.serving.onnx.spec`), else None."""
    lean = getattr(model, "model", None)
    if hasattr(lean, "spec") and hasattr(lean, "arrays"):
        spec, arrays = lean.spec, lean.arrays
    else:
        estimator = getattr(model, "estimator", None)
        if estimator is None or not hasattr(estimator, "lean_spec"):
            return None
        from stance.errors import NotExportable
        from stance.serving.onnx.spec import collect_spec

        try:
            spec, collected = collect_spec(estimator)
        except NotExportable:
            return None
        arrays = collected.arrays
    linear = all(block["kind"] in ("tfidf", "onehot") for part in spec["models"].values() for block in part["features"])
    heads = all(part["head"]["kind"] in LINEAR_HEADS for part in spec["models"].values())
    return (spec, arrays) if linear and heads else None


def head_direction(head: dict, arrays: dict, position: int) -> tuple[np.ndarray, float]:
    """The weight of every feature for the head's class at ``position`` (its score minus the mean
    score over classes, see the module docstring), and the intercepts' part of that score."""
    kind = head["kind"]
    if kind in ("logistic", "decision_softmax"):
        coef, intercept = arrays[head["coef"]], np.atleast_1d(arrays[head["intercept"]])
        if coef.shape[0] == 1:  # two classes: scores (0, z) for logistic, (-s, s) for the SVM
            sign = 1.0 if position == 1 else -1.0
            half = 0.5 if kind == "logistic" else 1.0
            return sign * half * coef[0], float(sign * half * intercept[0])
        return coef[position] - coef.mean(axis=0), float(intercept[position] - intercept.mean())
    if kind == "calibrated_ovr":
        binary = len(head["classes"]) == 2
        directions, bases = [], []
        for member in head["members"]:
            coef, intercept = arrays[member["coef"]], np.atleast_1d(arrays[member["intercept"]])
            a, b = np.asarray(member["a"]), np.asarray(member["b"])
            if binary:  # one column, the second class: p1 = expit(t), p0 = expit(-t)
                sign = 1.0 if position == 1 else -1.0
                directions.append(-sign * a[0] * coef[0])
                bases.append(float(-sign * (a[0] * intercept[0] + b[0])))
                continue
            positions = list(member["positions"])
            if position not in positions:  # a calibration fold without this class
                continue
            slopes = -a[:, None] * coef  # calibrated logit t_k = -(a_k s_k + b_k)
            offsets = -(a * intercept + b)
            column = positions.index(position)
            directions.append(slopes[column] - slopes.mean(axis=0))
            bases.append(float(offsets[column] - offsets.mean()))
        if not directions:
            return np.zeros(arrays[head["members"][0]["coef"]].shape[1]), 0.0
        return np.mean(directions, axis=0), float(np.mean(bases))
    raise StanceError(f"a '{kind}' head has no exact linear contributions: use --method occlusion")


def _routed(spec: dict, target: str | None) -> tuple[dict, str | None]:
    """The part of the spec that scores a statement with ``target``, and the target it reads."""
    target = target_or(target, spec["default_target"])
    models = spec["models"]
    if "*" in models:
        return models["*"], target
    return models.get(target, models[spec["route_default"]]), target


def linear_blocks(spec: dict, arrays: dict, target: str | None, label: str):
    """The feature blocks of the model part that scores ``target``, weighted for ``label``, and
    the intercepts' part (:func:`stance.evaluation.attribution.linear`'s ``blocks`` and ``base``)."""
    from stance.evaluation.attribution import Block

    part, target = _routed(spec, target)
    head = part["head"]
    position = spec["classes"].index(label) if label in spec["classes"] else -1
    width = sum(len(b["categories"]) if b["kind"] == "onehot" else len(arrays[b["idf"]]) for b in part["features"])
    if position not in head["classes"]:  # this part never saw the label: nothing moves it
        direction, base = np.zeros(width), 0.0
    else:
        direction, base = head_direction(head, arrays, head["classes"].index(position))
    blocks, offset = [], 0
    for block in part["features"]:
        if block["kind"] == "onehot":
            size = len(block["categories"])
            blocks.append(Block("onehot", block, direction[offset : offset + size],
                                value=target if block["column"] == "target" else None))
        else:
            idf = arrays[block["idf"]]
            size = len(idf)
            blocks.append(Block("tfidf", block, direction[offset : offset + size], idf=idf))
        offset += size
    return blocks, base


# --------------------------------------------------------------------------- explaining
def _proba(model, target):
    return lambda texts: model.scores(list(texts), [target] * len(texts))[0]


def explain_rows(model, rows: list[dict], method: str = "auto", span: int = 1) -> list:
    """Explanations (:class:`stance.evaluation.attribution.Explanation`) of input rows with a model
    already loaded (:func:`stance.serving.predict.load`), one per row, in order."""
    from stance.evaluation import attribution

    if method not in METHODS:
        raise StanceError(f"unknown method '{method}' ({', '.join(METHODS)})")
    form = linear_form(model) if method in ("auto", "linear") else None
    if method == "linear" and form is None:
        raise StanceError("the model is not a linear TF-IDF model (tfidf_logreg, tfidf_svm): use --method occlusion")
    out = []
    for row in rows:
        proba = _proba(model, row["target"])
        if form is None:
            out.append(attribution.occlusion(proba, row["text"], LABELS, span=span))
            continue
        scores = proba([row["text"]])[0]
        label = LABELS[int(np.argmax(scores))]
        blocks, base = linear_blocks(*form, row["target"], label)
        out.append(attribution.linear(row["text"], blocks, LABELS, LABELS.index(label), scores, base))
    return out


def record(row: dict, explanation) -> dict:
    """One statement's explanation as a dict: the prediction's columns, ``method``, ``units``, ``rest``
    and ``words`` (every word in text order, ``{token, start, end, weight}``)."""
    proba = explanation.proba
    c = LABELS.index(explanation.label)
    return {"id": row["id"], "text": row["text"], "target": row["target"], "label": explanation.label,
            "confidence": float(proba[c]), **{f"p_{label}": float(p) for label, p in zip(LABELS, proba)},
            "method": explanation.method, "units": UNITS[explanation.method], "rest": float(explanation.rest),
            "words": [{"token": w.token, "start": w.start, "end": w.end, "weight": float(x)}
                      for w, x in zip(explanation.words, explanation.weights)],
            **{k: row[k] for k in ("article_start", "article_end") if k in row}}


def explain(statements, model_uri: str = DEFAULT_MODEL, tracking_uri: str | None = None, target: str | None = None,
            method: str = "auto", span: int = 1, lean: bool = True, precision: str = "auto") -> list[dict]:
    """Explain the predictions of a logged model.

    Parameters
    ----------
    statements : str, list of str, list of dict or pandas.DataFrame
        As :func:`stance.serving.predict.predict` takes them (``text``, optional ``target`` and ``id``).
    model_uri, tracking_uri, target, lean, precision
        As in :func:`stance.serving.predict.predict`.
    method : {"auto", "occlusion", "linear"}, default="auto"
        How words are weighed (see the module docstring); "auto": linear for a pure linear TF-IDF
        model, occlusion otherwise.
    span : int, default=1
        Occlusion only: remove this many consecutive words at a time.

    Returns
    -------
    list of dict
        One :func:`record` per statement: id, text, target, label, confidence, ``p_<label>``,
        method, units, rest and ``words`` (every word with its span and signed weight towards the label).

    Raises
    ------
    stance.errors.StanceError
        No statements, an unknown model or store, or ``method="linear"`` for a model that is not
        linear: one line saying which.
    """
    rows = rows_from(statements, target)
    if isinstance(statements, list) and all(isinstance(s, dict) for s in statements):  # keep article spans
        rows = [{**row, **{k: s[k] for k in ("article_start", "article_end") if k in s}}
                for row, s in zip(rows, statements)]
    model = load(model_uri, tracking_uri, lean, resolve(precision, len(rows)))
    return [record(row, e) for row, e in zip(rows, explain_rows(model, rows, method, span))]


def article_rows(path: str | Path, target: str | None = None) -> list[dict]:
    """The statements of a new article, split as ``stance predict --article`` splits it, as input
    rows with their span in the article (``article_start``, ``article_end``)."""
    from stance.annotation.articles import read_article
    from stance.annotation.corpus import extract_document
    from stance.labels import FOREIGN_TROOPS_TARGET

    statements = extract_document(Path(path).stem, read_article(path), target or FOREIGN_TROOPS_TARGET)
    if not statements:
        raise StanceError("no statements found in the article (only boilerplate?)", path=path)
    rows = rows_from([{"id": s["id"], "text": s["text"], "target": s["target"]} for s in statements])
    return [{**row, "article_start": s["start"], "article_end": s["end"]} for row, s in zip(rows, statements)]


# --------------------------------------------------------------------------- output
def strongest(rec: dict, k: int = 5) -> list[dict]:
    """The ``k`` words of largest absolute weight of a :func:`record` (0: all), strongest first."""
    order = sorted(rec["words"], key=lambda w: (-abs(w["weight"]), w["start"]))
    return order[:k] if k else order


def summary(rec: dict, k: int = 5) -> str:
    """The ``k`` strongest words as one line: ``troops +0.213, never -0.104`` (words of weight 0 left out)."""
    return ", ".join(f"{w['token']} {w['weight']:+.3f}" for w in strongest(rec, k)
                     if round(w["weight"], 3)) or "(no word moved it)"


def jsonl_text(records: list[dict], k: int = 5) -> str:
    """One JSON object a line: the record with ``words`` cut to the ``k`` strongest (0: all)."""
    from stance.io import dumps_jsonl

    return dumps_jsonl([{**rec, "words": strongest(rec, k)} for rec in records])


def explanations_table(records: list[dict], k: int = 5, width: int = 60):
    """A rich Table: id, label, probability, the ``k`` strongest words (signed) and the text."""
    from stance.tables import rich_table

    rows = [[str(r["id"]), r["label"], f"{r['confidence']:.3f}", summary(r, k),
             r["text"] if len(r["text"]) <= width else r["text"][: width - 1] + "…"] for r in records]
    units = {r["units"] for r in records}
    title = f"weights towards the label, in {' / '.join(sorted(units))}" if units else ""
    return rich_table(["id", "label", "probability", "top words", "text"], rows, title=title,
                      justify=["left", "left", "right", "left", "left"])


def write_explanations(records: list[dict], path: str | Path, k: int = 5, title: str = "Explanations") -> None:
    """Write explanations atomically: ``.jsonl`` (:func:`jsonl_text`) or ``.html`` (one
    self-contained page, :func:`stance.serving.explain_html.render`), by the file's suffix."""
    from stance.io import atomic_write_text

    suffix = Path(path).suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        text = jsonl_text(records, k)
    elif suffix in (".html", ".htm"):
        from stance.serving.explain_html import render

        text = render(records, k, title)
    else:
        raise StanceError("output must end in .jsonl or .html", path=path)
    atomic_write_text(path, text)
