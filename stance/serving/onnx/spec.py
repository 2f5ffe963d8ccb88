"""A fitted model as a lean spec: scikit-learn components turned into plain arrays and JSON
that :mod:`stance.serving.onnx.inference` reads without scikit-learn.

Models describe themselves through ``lean_spec(spec)`` (see :class:`stance.models.base.StanceClassifier`);
this module knows the scikit-learn parts they are built from. Anything it does not know raises
:class:`NotExportable` with the reason, and the model then serves through MLflow.
"""

from __future__ import annotations

import numpy as np

from stance.errors import NotExportable
from stance.serving.onnx.inference import ANALYZERS, FORMAT


class Spec:
    """Collects the arrays and sentence encoders of one model's spec."""

    def __init__(self):
        self.arrays: dict[str, np.ndarray] = {}
        self.encoders: dict[str, str | None] = {}  # folder name -> the ``pretrained`` it exports
        self.classifiers: dict[str, object] = {}  # folder name -> a fine-tuned model exported whole

    def array(self, values) -> str:
        name = f"a{len(self.arrays)}"
        self.arrays[name] = np.asarray(values)
        return name

    def encoder(self, pretrained: str | None) -> str:
        for name, known in self.encoders.items():
            if known == pretrained:
                return name
        name = f"encoder{len(self.encoders)}"
        self.encoders[name] = pretrained
        return name

    def classifier(self, estimator, pair: bool) -> dict:
        """A fine-tuned sequence classifier exported whole to ONNX: a block of its logits (to be
        read by :meth:`softmax`); ``pair``: it reads (statement, target) pairs."""
        name = f"classifier{len(self.classifiers)}"
        self.classifiers[name] = estimator
        return {"kind": "logits", "column": "text", "encoder": name, "pair": bool(pair)}

    @staticmethod
    def softmax(classes: list[int]) -> dict:
        """A head that turns one block of logits into probabilities over ``classes`` (positions)."""
        return {"kind": "softmax", "classes": [int(c) for c in classes]}

    # ------------------------------------------------------------------ feature blocks
    def tfidf(self, vectorizer, column: str) -> dict:
        params = vectorizer.get_params()
        unsupported = {k: params[k] for k in ("preprocessor", "tokenizer", "stop_words", "strip_accents", "vocabulary")
                       if params.get(k) is not None}
        if unsupported or params["binary"] or params["input"] != "content" or params["analyzer"] not in ANALYZERS:
            raise NotExportable(f"a TfidfVectorizer with {unsupported or 'these settings'} has no lean form")
        if params["norm"] not in ("l2", None):
            raise NotExportable(f"TfidfVectorizer norm={params['norm']!r} has no lean form")
        use_idf = bool(params["use_idf"])
        return {"kind": "tfidf", "column": column, "analyzer": params["analyzer"],
                "ngram_range": list(params["ngram_range"]), "lowercase": bool(params["lowercase"]),
                "token_pattern": params["token_pattern"], "sublinear_tf": bool(params["sublinear_tf"]),
                "norm": params["norm"], "use_idf": use_idf,
                "vocabulary": {term: int(index) for term, index in vectorizer.vocabulary_.items()},
                "idf": self.array(vectorizer.idf_ if use_idf else np.ones(len(vectorizer.vocabulary_)))}

    def onehot(self, encoder, column: str) -> dict:
        if encoder.drop is not None or encoder.handle_unknown != "ignore" or len(encoder.categories_) != 1:
            raise NotExportable("only a one-column OneHotEncoder(handle_unknown='ignore') has a lean form")
        return {"kind": "onehot", "column": column, "categories": [str(c) for c in encoder.categories_[0]]}

    def embedding(self, pretrained: str | None, column: str, weight: float = 1.0, split_hashtags: bool = False) -> dict:
        return {"kind": "embedding", "column": column, "encoder": self.encoder(pretrained), "weight": float(weight),
                "split_hashtags": bool(split_hashtags)}

    def column_transformer(self, features) -> list[dict]:
        """The blocks of a fitted ColumnTransformer, in its output order."""
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.preprocessing import OneHotEncoder

        blocks = []
        for name, part, columns in features.transformers_:
            if part == "drop" or (name == "remainder" and not len(columns)):
                continue
            column = columns if isinstance(columns, str) else (columns[0] if len(columns) == 1 else None)
            if column not in ("text", "target"):
                raise NotExportable(f"feature part '{name}' reads columns {columns!r}")
            if isinstance(part, TfidfVectorizer):
                blocks.append(self.tfidf(part, column))
            elif isinstance(part, OneHotEncoder):
                blocks.append(self.onehot(part, column))
            elif hasattr(part, "lean_block"):
                blocks.append(part.lean_block(self, column))
            else:
                raise NotExportable(f"feature part '{name}' ({type(part).__name__}) has no lean form")
        return blocks

    # ------------------------------------------------------------------ heads
    def head(self, classifier) -> dict:
        """A fitted classifier's probabilities as a head over its ``classes_`` (class positions)."""
        from sklearn.calibration import CalibratedClassifierCV
        from sklearn.dummy import DummyClassifier
        from sklearn.linear_model import LogisticRegression
        from sklearn.svm import LinearSVC

        classes = [int(c) for c in classifier.classes_]
        if isinstance(classifier, LogisticRegression):
            return {"kind": "logistic", "classes": classes, "coef": self.array(classifier.coef_),
                    "intercept": self.array(np.atleast_1d(classifier.intercept_))}
        if isinstance(classifier, LinearSVC):
            return {"kind": "decision_softmax", "classes": classes, "coef": self.array(classifier.coef_),
                    "intercept": self.array(np.atleast_1d(classifier.intercept_))}
        if isinstance(classifier, DummyClassifier) and classifier.strategy in ("most_frequent", "prior"):
            proba = classifier.predict_proba(np.zeros((1, 1)))[0]
            return {"kind": "constant", "classes": classes, "proba": self.array(proba)}
        if isinstance(classifier, CalibratedClassifierCV) and classifier.method == "sigmoid":
            members = []
            for calibrated in classifier.calibrated_classifiers_:
                inner = calibrated.estimator
                if not isinstance(inner, (LinearSVC, LogisticRegression)):
                    raise NotExportable(f"calibrated {type(inner).__name__} has no lean form")
                positions = np.searchsorted(np.asarray(calibrated.classes), inner.classes_)
                members.append({"coef": self.array(inner.coef_), "intercept": self.array(np.atleast_1d(inner.intercept_)),
                                "positions": [int(p) for p in positions],
                                "a": [float(c.a_) for c in calibrated.calibrators],
                                "b": [float(c.b_) for c in calibrated.calibrators]})
            return {"kind": "calibrated_ovr", "classes": classes, "members": members}
        raise NotExportable(f"classifier {type(classifier).__name__} has no lean form")


def collect_spec(estimator) -> tuple[dict, Spec]:
    """``(spec, collected)`` for a fitted stance classifier, or :class:`NotExportable`."""
    spec = Spec()
    models = estimator.lean_spec(spec)
    default = getattr(estimator, "default_target_", "")
    document = {"format": FORMAT, "model": type(estimator).__name__, "family": getattr(estimator, "family", "other"),
                "classes": [str(c) for c in estimator.classes_],
                "class_prior": [float(p) for p in getattr(estimator, "class_prior_", [])],
                "default_target": default, "route_default": default, "models": models,
                "encoders": sorted([*spec.encoders, *spec.classifiers])}
    return document, spec
