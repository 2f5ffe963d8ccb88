"""TF-IDF word and character n-grams with a linear classifier."""

from __future__ import annotations

import numpy as np

from stance.models.base import StanceClassifier
from stance.scores import decision_proba


class TfidfClassifier(StanceClassifier):
    """Word and character n-gram TF-IDF features, then logistic regression or a linear SVM.

    ``classifier="svm"`` gives a LinearSVC whose probabilities come from sigmoid calibration
    (CalibratedClassifierCV with up to 3 folds; a class with fewer than 2 training
    statements makes it fall back to a softmax of the decision function). With
    ``use_target`` the target is one-hot encoded beside the n-grams, so one model can
    serve several targets. With ``per_target`` one model is trained per target instead
    (as in the SemEval-2016 baselines); a statement whose target was not seen in training
    goes to the model of the most frequent training target.

    Parameters
    ----------
    classifier : {"logreg", "svm"}, default="logreg"
        The linear classifier on the features: "logreg" is ``LogisticRegression``
        (``max_iter=2000``), "svm" a ``LinearSVC`` calibrated as described above. Any other
        value raises ``ValueError`` in ``fit``.
    word_ngrams : tuple of (int, int), default=(1, 2)
        Smallest and largest word n-gram length of the word TF-IDF block (text lower-cased).
    char_ngrams : tuple of (int, int), default=(2, 5)
        Smallest and largest character n-gram length of the character TF-IDF block
        (``analyzer="char_wb"``: n-grams inside word boundaries, text lower-cased).
    min_df : int, default=1
        An n-gram is kept only if it occurs in at least this many training statements (both
        blocks).
    sublinear_tf : bool, default=True
        Use ``1 + log(tf)`` instead of the raw term count (both blocks).
    C : float, default=1.0
        Inverse regularisation strength of the classifier: smaller is stronger.
    class_weight : {"balanced"} or None, default="balanced"
        Passed to the classifier: "balanced" weighs each label by the inverse of its training
        frequency, None weighs every statement alike. (A dict is passed on as well, but it must
        be keyed by class index, the position in ``classes_``: the classifier is trained on those.)
    use_target : bool, default=True
        Add the target, one-hot encoded, to the features; a target not seen in training gets
        all zeros. Ignored when ``per_target`` is set.
    per_target : bool, default=False
        Train one feature pipeline and classifier per training target instead of one for all.
    seed : int, default=0
        ``random_state`` of the classifier.

    Attributes
    ----------
    %(classes)s
    default_target_ : str
        The target seen most often in training ("" if none): it replaces a missing target, and
        with ``per_target`` its model serves targets not seen in training.
    models_ : dict
        The fitted ``(features, classifier)`` pairs: under the key None when ``per_target`` is
        False, else one per training target (the target name is the key). ``features`` is a
        fitted ``ColumnTransformer`` (blocks "word", "char" and, with ``use_target``, "target");
        ``classifier`` is the fitted ``LogisticRegression``, ``CalibratedClassifierCV`` or
        ``LinearSVC``, or a ``DummyClassifier`` (most frequent) where the statements it was
        trained on hold a single label.
    """

    family = "sparse"

    def __init__(self, classifier: str = "logreg", word_ngrams: tuple[int, int] = (1, 2),
                 char_ngrams: tuple[int, int] = (2, 5), min_df: int = 1, sublinear_tf: bool = True,
                 C: float = 1.0, class_weight: str | None = "balanced", use_target: bool = True,
                 per_target: bool = False, seed: int = 0):
        self.classifier = classifier
        self.word_ngrams = word_ngrams
        self.char_ngrams = char_ngrams
        self.min_df = min_df
        self.sublinear_tf = sublinear_tf
        self.C = C
        self.class_weight = class_weight
        self.use_target = use_target
        self.per_target = per_target
        self.seed = seed

    def _features(self):
        from sklearn.compose import ColumnTransformer

        return ColumnTransformer(self._feature_parts())

    def _feature_parts(self) -> list:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.preprocessing import OneHotEncoder

        parts = [
            ("word", TfidfVectorizer(ngram_range=tuple(self.word_ngrams), min_df=self.min_df,
                                     sublinear_tf=self.sublinear_tf, lowercase=True), "text"),
            ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=tuple(self.char_ngrams), min_df=self.min_df,
                                     sublinear_tf=self.sublinear_tf, lowercase=True), "text"),
        ]
        if self.use_target and not self.per_target:  # one model per target needs no target feature
            parts.append(("target", OneHotEncoder(handle_unknown="ignore"), ["target"]))
        return parts

    def _classifier(self, encoded: np.ndarray):
        from sklearn.calibration import CalibratedClassifierCV
        from sklearn.linear_model import LogisticRegression
        from sklearn.svm import LinearSVC

        if self.classifier == "logreg":
            return LogisticRegression(C=self.C, class_weight=self.class_weight, max_iter=2000,
                                      random_state=self.seed)
        if self.classifier == "svm":
            svm = LinearSVC(C=self.C, class_weight=self.class_weight, random_state=self.seed)
            counts = np.bincount(encoded)
            folds = min(3, int(counts[counts > 0].min()))
            return CalibratedClassifierCV(svm, cv=folds, method="sigmoid") if folds >= 2 else svm
        raise ValueError(f"classifier must be 'logreg' or 'svm', got {self.classifier!r}")

    def _frame(self, X):
        import pandas as pd

        texts, targets = self._inputs(X)
        return pd.DataFrame({"text": texts, "target": targets})

    def _fit_one(self, frame, encoded: np.ndarray):
        from sklearn.dummy import DummyClassifier

        features = self._features()
        one_label = len(set(encoded.tolist())) == 1  # possible for one target's statements
        classifier = DummyClassifier(strategy="most_frequent") if one_label else self._classifier(encoded)
        return features, classifier.fit(features.fit_transform(frame), encoded)

    def fit(self, X, y):
        self._remember_targets(X)
        encoded = self._set_classes(y)
        frame = self._frame(X)
        if not self.per_target:
            self.models_ = {None: self._fit_one(frame, encoded)}
            return self
        self.models_ = {}
        for target in sorted(set(frame["target"])):
            rows = (frame["target"] == target).to_numpy()
            self.models_[target] = self._fit_one(frame[rows], encoded[rows])
        return self

    def _proba_one(self, features, model, frame) -> np.ndarray:
        encoded = features.transform(frame)
        if hasattr(model, "predict_proba"):
            proba = model.predict_proba(encoded)
        else:
            proba = decision_proba(model.decision_function(encoded))
        full = np.zeros((proba.shape[0], len(self.classes_)))
        full[:, model.classes_] = proba  # a target's data or a calibration fold may miss a class
        return full

    def lean_spec(self, spec) -> dict:
        return {"*" if target is None else target: {"features": spec.column_transformer(features),
                                                     "head": spec.head(model)}
                for target, (features, model) in self.models_.items()}

    def __getstate__(self):
        # skops cannot write a dict keyed by None: ``models_`` is stored as a list of [key, pair]
        state = super().__getstate__()
        if isinstance(state.get("models_"), dict):
            state["models_"] = [[target, pair] for target, pair in state["models_"].items()]
        return state

    def __setstate__(self, state):
        if isinstance(state.get("models_"), list):
            state = {**state, "models_": {target: tuple(pair) for target, pair in state["models_"]}}
        super().__setstate__(state)

    def predict_proba(self, X):
        frame = self._frame(X)
        if None in self.models_:
            return self._proba_one(*self.models_[None], frame)
        routed = np.array([t if t in self.models_ else self.default_target_ for t in frame["target"]], dtype=object)
        full = np.zeros((len(frame), len(self.classes_)))
        for target in set(routed):
            rows = routed == target
            full[rows] = self._proba_one(*self.models_[target], frame[rows])
        return full
