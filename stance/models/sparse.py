"""TF-IDF word and character n-grams with a linear classifier."""

from __future__ import annotations

import numpy as np

from stance.models.base import StanceClassifier, softmax


class TfidfClassifier(StanceClassifier):
    """Word and character n-gram TF-IDF features, then logistic regression or a linear SVM.

    ``classifier="svm"`` gives a LinearSVC whose probabilities come from sigmoid calibration
    (CalibratedClassifierCV with up to 3 folds; a class with fewer than 2 training
    statements makes it fall back to a softmax of the decision function). With
    ``use_target`` the target is one-hot encoded beside the n-grams, so one model can
    serve several targets.
    """

    family = "sparse"

    def __init__(self, classifier: str = "logreg", word_ngrams: tuple[int, int] = (1, 2),
                 char_ngrams: tuple[int, int] = (2, 5), min_df: int = 1, sublinear_tf: bool = True,
                 C: float = 1.0, class_weight: str | None = "balanced", use_target: bool = True,
                 seed: int = 0):
        self.classifier = classifier
        self.word_ngrams = word_ngrams
        self.char_ngrams = char_ngrams
        self.min_df = min_df
        self.sublinear_tf = sublinear_tf
        self.C = C
        self.class_weight = class_weight
        self.use_target = use_target
        self.seed = seed

    def _features(self):
        from sklearn.compose import ColumnTransformer
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.preprocessing import OneHotEncoder

        parts = [
            ("word", TfidfVectorizer(ngram_range=tuple(self.word_ngrams), min_df=self.min_df,
                                     sublinear_tf=self.sublinear_tf, lowercase=True), "text"),
            ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=tuple(self.char_ngrams), min_df=self.min_df,
                                     sublinear_tf=self.sublinear_tf, lowercase=True), "text"),
        ]
        if self.use_target:
            parts.append(("target", OneHotEncoder(handle_unknown="ignore"), ["target"]))
        return ColumnTransformer(parts)

    def _classifier(self, encoded: np.ndarray):
        from sklearn.calibration import CalibratedClassifierCV
        from sklearn.linear_model import LogisticRegression
        from sklearn.svm import LinearSVC

        if self.classifier == "logreg":
            return LogisticRegression(C=self.C, class_weight=self.class_weight, max_iter=2000,
                                      random_state=self.seed)
        if self.classifier == "svm":
            svm = LinearSVC(C=self.C, class_weight=self.class_weight, random_state=self.seed)
            folds = min(3, int(np.bincount(encoded).min()))
            return CalibratedClassifierCV(svm, cv=folds, method="sigmoid") if folds >= 2 else svm
        raise ValueError(f"classifier must be 'logreg' or 'svm', got {self.classifier!r}")

    def _frame(self, X):
        import pandas as pd

        texts, targets = self._inputs(X)
        return pd.DataFrame({"text": texts, "target": targets})

    def fit(self, X, y):
        self._remember_targets(X)
        encoded = self._set_classes(y)
        self.features_ = self._features()
        features = self.features_.fit_transform(self._frame(X))
        self.model_ = self._classifier(encoded).fit(features, encoded)
        return self

    def predict_proba(self, X):
        features = self.features_.transform(self._frame(X))
        if hasattr(self.model_, "predict_proba"):
            proba = self.model_.predict_proba(features)
        else:
            scores = self.model_.decision_function(features)
            proba = softmax(scores if scores.ndim == 2 else np.column_stack([-scores, scores]))
        full = np.zeros((proba.shape[0], len(self.classes_)))
        full[:, self.model_.classes_] = proba  # a calibration fold may miss a class
        return full
