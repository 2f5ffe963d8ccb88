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

    Parameters
    ----------
    members : dict of str to StanceClassifier, or None, default=None
        The members by name, unfitted (they are cloned and fitted inside ``fit``). None or an
        empty dict raises ``StanceError`` in ``fit``.
    cv : int, default=5
        Number of stratified folds for the out-of-fold probabilities, lowered to the number of
        statements of the rarest label when that is smaller, and at least 2.
    C : float, default=1.0
        Inverse regularisation strength of the logistic-regression meta-learner.
    class_weight : {"balanced"} or None, default="balanced"
        Label weights of the meta-learner: "balanced" weighs each label by the inverse of its
        training frequency, None weighs every statement alike.
    seed : int, default=0
        Seed of the fold shuffle and ``random_state`` of the meta-learner.

    Attributes
    ----------
    %(classes)s
    default_target_ : str
        The target seen most often in training ("" if none). The members keep their own and
        receive the statements with missing targets as they are.
    model_ : sklearn.ensemble.StackingClassifier
        The fitted stack, trained on label names: ``model_.estimators_`` are the members
        refitted on all training statements, ``model_.final_estimator_`` the meta-learner.
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
    ``CalibratedClassifierCV``: ``method`` sigmoid or isotonic, ``cv`` stratified folds).

    For each fold a clone of the member is fitted on the other folds and a calibrator on the
    fold; ``predict_proba`` averages the calibrated clones (``CalibratedClassifierCV``'s
    default ``ensemble``). The member is not refitted on all the training statements. The
    ``family`` is the member's.

    Parameters
    ----------
    member : StanceClassifier or None, default=None
        The model to calibrate, unfitted. None is not checked here: scikit-learn then
        calibrates its default ``LinearSVC``, which cannot read the statements.
    method : {"sigmoid", "isotonic"}, default="sigmoid"
        The calibration: Platt's sigmoid or isotonic regression.
    cv : int, default=3
        Number of stratified folds, lowered to the number of statements of the rarest label
        when that is smaller, and at least 2.
    seed : int, default=0
        Seed of the fold shuffle.

    Attributes
    ----------
    %(classes)s
    default_target_ : str
        The target seen most often in training ("" if none). The member clones keep their own
        and receive the statements with missing targets as they are.
    model_ : sklearn.calibration.CalibratedClassifierCV
        The fitted calibration, trained on label names; ``model_.calibrated_classifiers_``
        holds one fitted member clone and its calibrator per fold.
    """

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
