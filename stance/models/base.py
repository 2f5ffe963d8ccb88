"""The contract every stance classifier keeps.

It is scikit-learn's estimator contract: ``__init__`` only stores parameters, ``fit``
returns ``self``, fitted attributes end in ``_``, ``classes_`` holds the label names and
``predict_proba`` columns follow ``classes_``. On top of it:

* ``X`` is a DataFrame with a ``text`` and an optional ``target`` column (a list of strings
  is accepted too). A missing target becomes the one most often seen in training
  (``default_target_``), so a model trained on one target can be used on bare statements.
* ``save(path)`` writes a folder and :func:`load_estimator` reads it back, whatever the
  class: the estimator as a skops file (``estimator.skops``, loaded without running code, only
  the types of :data:`TRUSTED_TYPES`); torch-based models keep their weights in a Hugging Face
  folder (safetensors) beside it. A pickle (``estimator.joblib``) is never loaded.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from sklearn.base import BaseEstimator, ClassifierMixin

from stance.labels import target_or

#: The estimator's file in a saved model's folder (skops: no code runs when it is loaded).
ESTIMATOR_FILE = "estimator.skops"
#: Where models saved before skops kept the estimator, as a pickle; it is refused, never loaded.
PICKLE_FILE = "estimator.joblib"
#: The types, beyond those skops trusts by default (builtins, numpy, scipy, scikit-learn's public
#: estimators), that a saved estimator may hold; any other type makes :func:`load_estimator` refuse it.
TRUSTED_TYPES = (
    "stance.models.baselines.MajorityClass",
    "stance.models.baselines.StratifiedRandom",
    "stance.models.tfidf.TfidfClassifier",
    "stance.models.tfidf_embed.TfidfEmbeddingClassifier",
    "stance.models.tfidf_embed.SentenceEmbedder",
    "stance.models.embed.EmbeddingLogReg",
    "stance.models.ensemble.StackingEnsemble",
    "stance.models.ensemble.Calibrated",
    "stance.models.setfit.SetFitClassifier",
    "stance.models.finetune.FineTuneClassifier",
    # scikit-learn internals of the calibrated and stacked models
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.model_selection._split.StratifiedKFold",
    "sklearn.utils._bunch.Bunch",
)


def as_frame(X: Any):
    """``X`` as a DataFrame with ``text`` and ``target`` columns (target may be missing values)."""
    import pandas as pd

    if isinstance(X, pd.DataFrame):
        if "text" not in X.columns:
            raise ValueError("input has no 'text' column")
        frame = X[["text"]].copy()
        frame["target"] = X["target"] if "target" in X.columns else None
    elif isinstance(X, str):
        raise TypeError("X must be a list of statements or a DataFrame, not a single string")
    else:
        frame = pd.DataFrame({"text": list(X), "target": None})
    frame["text"] = frame["text"].astype(str)
    return frame.reset_index(drop=True)


def plain(value: Any) -> Any:
    """``value`` with OmegaConf containers (``ListConfig``, ``DictConfig``) as plain lists and dicts."""
    if type(value).__module__.startswith("omegaconf."):
        from omegaconf import OmegaConf

        return OmegaConf.to_container(value, resolve=True)
    return value


CLASSES_DOC = """classes_ : ndarray of str, shape (n_classes,)
    The label names seen in training, sorted.
class_prior_ : ndarray of float, shape (n_classes,)
    The share of each label of ``classes_`` among the training statements."""

#: Docstring parts several models share, named in their docstrings as ``%(name)s`` on a line of
#: their own and filled in when the class is made (:func:`fill_docs`), so each is written once.
SHARED_DOCS = {
    "classes": CLASSES_DOC,
    "fitted": CLASSES_DOC + """
default_target_ : str
    The target seen most often in training ("" if none); it replaces a missing target.""",
    "pretrained": """pretrained : str or None, default=None
    The sentence encoder (see :func:`stance.models.encoders.resolve`): None, "" or
    "packaged:all-MiniLM-L6-v2" is the packaged all-MiniLM-L6-v2, "packaged:all-mpnet-base-v2"
    the optional packaged all-mpnet-base-v2; an existing folder is loaded as it is; anything
    else is a Hugging Face hub id, fetched only when ``HF_HUB_OFFLINE=0`` is set.""",
    "encoder_device": """device : str, default="auto"
    Where the encoder runs: "auto" (a CUDA GPU when there is one, else the CPU), "cpu",
    "cuda" or "cuda:N"; "cuda" without a GPU raises ``StanceError``.""",
}


def fill_docs(doc: str | None) -> str | None:
    """A docstring with each ``%(name)s`` line of :data:`SHARED_DOCS` replaced, at its indentation."""
    if not doc:
        return doc

    def fill(match: re.Match) -> str:
        indent, name = match.group(1), match.group(2)
        return "\n".join(indent + line for line in SHARED_DOCS[name].splitlines())

    return re.sub(r"^([ \t]*)%\((\w+)\)s$", fill, doc, flags=re.M)


class StanceClassifier(ClassifierMixin, BaseEstimator):
    """Base class: input handling, ``predict`` from ``predict_proba``, save/load.

    It takes no parameters itself; each subclass's ``__init__`` only stores its own (see
    the module docstring for the contract). A subclass implements ``fit`` and
    ``predict_proba`` and calls the helpers below from ``fit``, so that every model has the
    same fitted attributes.

    Attributes
    ----------
    family : str
        Class attribute: the model family, recorded as a tag with every run ("baseline",
        "sparse", "embedding", "hybrid", "ensemble", "setfit", "transformer"; "other" here).
    classes_ : ndarray of str, shape (n_classes,)
        The label names seen in training, sorted. Set by ``fit``.
    class_prior_ : ndarray of float, shape (n_classes,)
        The share of each label of ``classes_`` among the training statements (used for
        prior-shift correction, see :func:`prior_by_label`). Set by ``fit``.
    default_target_ : str
        The target seen most often in training ("" when no training statement had one); it
        replaces a missing target at prediction time. Set by ``fit``.

    Methods
    -------
    fit(X, y)
        Train on ``X`` (a DataFrame with a ``text`` and an optional ``target`` column, or a
        list of statements) and ``y`` (label names, converted to ``str``); returns ``self``.
    predict_proba(X)
        Probabilities, shape (n_statements, n_classes), columns in the order of ``classes_``.
    predict(X)
        The label of ``classes_`` with the highest probability for each statement.
    input_limit(), truncated(X)
        The longest input in tokens the model reads (None: no limit) and which statements
        exceed it.
    lean_spec(spec)
        The model's inference as plain arrays for the lean (ONNX) runtime; raises
        ``NotExportable`` where that is not possible.
    save(path)
        Write the fitted model to a folder; :func:`load_estimator` reads it back.
    """

    #: Model family, recorded as a tag with every run (e.g. "baseline", "sparse", "transformer").
    family: str = "other"

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.__doc__ = fill_docs(cls.__doc__)  # the shared parameter and attribute texts

    def __getstate__(self):
        """The state as plain values: a parameter Hydra gave as an OmegaConf list or dict (a
        config without ``_convert_: all``) is stored as a list or dict, so that skops can write it."""
        return {key: plain(value) for key, value in super().__getstate__().items()}

    # ------------------------------------------------------------------ inputs
    def _remember_targets(self, X) -> tuple[list[str], list[str]]:
        frame = as_frame(X)
        known = [t for t in frame["target"].tolist() if target_or(t, None)]
        self.default_target_ = Counter(known).most_common(1)[0][0] if known else ""
        return self._inputs(frame)

    def _inputs(self, X) -> tuple[list[str], list[str]]:
        """Texts and targets, a missing target replaced by ``default_target_``."""
        frame = as_frame(X)
        default = getattr(self, "default_target_", "")
        targets = [target_or(t, default) for t in frame["target"].tolist()]
        return frame["text"].tolist(), targets

    def _set_classes(self, y) -> np.ndarray:
        """Store ``classes_`` (sorted label names) and ``class_prior_`` (the training label mix,
        for prior-shift correction) and return ``y`` as class indices."""
        y = np.asarray(y).astype(str)
        if len(y) == 0:
            raise ValueError("cannot fit on no statements")
        self.classes_, encoded = np.unique(y, return_inverse=True)
        self.class_prior_ = np.bincount(encoded, minlength=len(self.classes_)) / len(encoded)
        return encoded

    # ------------------------------------------------------------------ prediction
    def predict(self, X) -> np.ndarray:
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    # ------------------------------------------------------------------ input limits
    def input_limit(self) -> int | None:
        """The longest input in tokens the model reads; None if it reads everything."""
        return None

    def truncated(self, X) -> np.ndarray:
        """Which statements exceed :meth:`input_limit` (and are cut to it when predicted)."""
        limit = self.input_limit()
        texts, targets = self._inputs(X)
        if limit is None:
            return np.zeros(len(texts), dtype=bool)
        return np.array([n > limit for n in self._token_counts(texts, targets)], dtype=bool)

    def _token_counts(self, texts: list[str], targets: list[str]) -> list[int]:
        raise NotImplementedError

    # ------------------------------------------------------------------ lean export
    def lean_spec(self, spec) -> dict:
        """This model's inference as plain arrays for :mod:`stance.serving.onnx` (``{target or "*": {"features": [...],
        "head": {...}}}``, filled through ``spec``, a :class:`stance.serving.onnx.spec.Spec`).

        A model that cannot be written that way raises ``NotExportable`` saying why; it then
        serves through MLflow.
        """
        from stance.errors import NotExportable

        raise NotExportable(f"{type(self).__name__} ({self.family}) has no lean export")

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> Path:
        """Write the fitted model to a folder (created if needed): ``estimator.skops`` and,
        for torch models, their weights."""
        import skops.io

        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        skops.io.dump(self, path / ESTIMATOR_FILE)
        self._save_weights(path)
        return path

    def _save_weights(self, path: Path) -> None:
        """Hook for models whose weights are not in ``estimator.skops`` (torch models)."""

    def _load_weights(self, path: Path) -> None:
        """Hook: restore what ``_save_weights`` wrote."""


def load_estimator(path: str | Path) -> StanceClassifier:
    """Load any model written by :meth:`StanceClassifier.save`.

    Only ``estimator.skops`` is read, and only if every type in it is one skops trusts by
    default or one of :data:`TRUSTED_TYPES`; anything else (an untrusted type, a pickle such as
    an old ``estimator.joblib``, a file that is not a skops file) raises ``StanceError``.
    """
    import skops.io

    from stance.errors import StanceError

    path = Path(path)
    file = path / ESTIMATOR_FILE
    if not file.is_file():
        if (path / PICKLE_FILE).exists():
            raise StanceError(f"{path / PICKLE_FILE} is a pickle: retrain or re-log the model "
                              "(pickles are never loaded)")
        raise StanceError(f"{file} does not exist: {path} holds no saved model")
    try:
        untrusted = [name for name in skops.io.get_untrusted_types(file=file) if name not in TRUSTED_TYPES]
    except Exception as error:  # not a zip, no schema: nothing in it is read
        raise StanceError(f"{file} is not a skops file ({type(error).__name__}: {one_line(error)})") from None
    if untrusted:
        raise StanceError(f"{file} holds types that are not trusted, so it is not loaded: {', '.join(untrusted)}")
    try:
        estimator = skops.io.load(file, trusted=list(TRUSTED_TYPES))
    except Exception as error:
        raise StanceError(f"{file} cannot be loaded ({type(error).__name__}: {one_line(error)})") from None
    if not isinstance(estimator, StanceClassifier):
        raise StanceError(f"{file} holds a {type(estimator).__name__}, not a stance classifier")
    estimator._load_weights(path)
    return estimator


def one_line(error: BaseException) -> str:
    return " ".join(str(error).split())


def proba_by_label(estimator, X, labels=None) -> np.ndarray:
    """``predict_proba`` with one column per label of ``labels`` (default: the fixed label set),
    0 for a label the model never saw in training."""
    from stance.labels import LABELS
    from stance.scores import in_label_order

    return in_label_order(estimator.predict_proba(X), estimator.classes_, labels or LABELS)


def prior_by_label(estimator, labels=None) -> np.ndarray:
    """The training label mix (``class_prior_``) with one entry per label of ``labels``."""
    from stance.errors import StanceError
    from stance.labels import LABELS
    from stance.scores import in_label_order

    if getattr(estimator, "class_prior_", None) is None:
        raise StanceError("this model records no training label mix (trained before prior-shift support): "
                          "retrain it to use a prior shift")
    return in_label_order(estimator.class_prior_, estimator.classes_, labels or LABELS)
