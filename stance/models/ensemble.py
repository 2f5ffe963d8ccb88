"""Models built from other models: a stacking ensemble and a calibrated wrapper.

Both keep the classifier contract and take their members as (unfitted) classifiers, so a
config composes them from the same ``_target_`` nodes the single models use.
"""

from __future__ import annotations

import numpy as np

from stance.models.base import StanceClassifier, as_frame, proba_by_label


class StackingEnsemble(StanceClassifier):
    """Stacking: each member's out-of-fold probabilities feed a logistic-regression meta-learner.

    Inside ``fit``, scikit-learn's ``StackingClassifier`` cross-validates every member on the
    training statements alone (``cv`` stratified, seeded folds), so the meta-learner never sees
    a probability from a member that was trained on the statement it scores; the members are
    then refitted on all the training statements. Nothing of a held-out test fold is used.
    """

    family = "ensemble"

    def __init__(self, members: dict | None = None, cv: int = 5, C: float = 1.0,
                 class_weight: str | None = "balanced", seed: int = 0):
        self.members = members
        self.cv = cv
        self.C = C
        self.class_weight = class_weight
        self.seed = seed

    def fit(self, X, y):
        from sklearn.ensemble import StackingClassifier
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import StratifiedKFold

        from stance.errors import StanceError

        if not self.members:
            raise StanceError("a stacking ensemble needs at least one member (members: {name: model})")
        self._remember_targets(X)
        self._set_classes(y)
        counts = np.unique(np.asarray(y).astype(str), return_counts=True)[1]
        folds = max(2, min(self.cv, int(counts.min())))
        self.model_ = StackingClassifier(
            estimators=[(name, member) for name, member in self.members.items()],
            final_estimator=LogisticRegression(C=self.C, class_weight=self.class_weight, max_iter=2000,
                                               random_state=self.seed),
            cv=StratifiedKFold(n_splits=folds, shuffle=True, random_state=self.seed), stack_method="predict_proba",
        ).fit(as_frame(X), np.asarray(y).astype(str))
        return self

    def predict_proba(self, X):
        return proba_by_label(self.model_, as_frame(X), list(self.classes_))


class Calibrated(StanceClassifier):
    """A member's probabilities calibrated on held-out statements (scikit-learn's
    ``CalibratedClassifierCV``: ``method`` sigmoid or isotonic, ``cv`` stratified folds)."""

    def __init__(self, member=None, method: str = "sigmoid", cv: int = 3, seed: int = 0):
        self.member = member
        self.method = method
        self.cv = cv
        self.seed = seed

    @property
    def family(self) -> str:  # the member's family: calibration does not change what the model is
        return getattr(self.member, "family", "other")

    def fit(self, X, y):
        from sklearn.calibration import CalibratedClassifierCV
        from sklearn.model_selection import StratifiedKFold

        self._remember_targets(X)
        self._set_classes(y)
        counts = np.unique(np.asarray(y).astype(str), return_counts=True)[1]
        folds = max(2, min(self.cv, int(counts.min())))
        self.model_ = CalibratedClassifierCV(self.member, method=self.method,
                                             cv=StratifiedKFold(n_splits=folds, shuffle=True, random_state=self.seed)
                                             ).fit(as_frame(X), np.asarray(y).astype(str))
        return self

    def predict_proba(self, X):
        return proba_by_label(self.model_, as_frame(X), list(self.classes_))
