"""Floor baselines: what any real model must beat."""

from __future__ import annotations

import numpy as np

from stance.models.base import StanceClassifier


class MajorityClass(StanceClassifier):
    """Always predicts the most frequent training label (ties: the first in sorted order).

    Its probability is 1 for that label and 0 for the others, whatever the statement. It
    takes no parameters.

    Attributes
    ----------
    %(classes)s
    prior_ : ndarray of float, shape (n_classes,)
        The same training label mix as ``class_prior_``; the label with the largest share is
        the one predicted (:class:`StratifiedRandom` draws from it).
    default_target_ : str
        The target seen most often in training ("" if none); not used by the prediction.
    """

    family = "baseline"

    def fit(self, X, y):
        self._remember_targets(X)
        encoded = self._set_classes(y)
        self.prior_ = np.bincount(encoded, minlength=len(self.classes_)) / len(encoded)
        return self

    def predict_proba(self, X):
        n = len(self._inputs(X)[0])
        proba = np.zeros((n, len(self.classes_)))
        proba[:, int(np.argmax(self.prior_))] = 1.0
        return proba

    def lean_spec(self, spec) -> dict:
        proba = np.zeros(len(self.classes_))
        proba[int(np.argmax(self.prior_))] = 1.0
        return {"*": {"features": [], "head": {"kind": "constant", "classes": list(range(len(self.classes_))),
                                                "proba": spec.array(proba)}}}


class StratifiedRandom(MajorityClass):
    """Draws each prediction at random from the training label distribution (seeded).

    The same input always gets the same draws: the generator is re-seeded per call. The draws
    depend on ``seed`` and on the number of statements only, not on their text. Each row of
    ``predict_proba`` is 1 for the drawn label and 0 for the others. It has no lean export.

    Parameters
    ----------
    seed : int, default=0
        Seed of the NumPy generator created anew in each ``predict_proba`` call.

    Attributes
    ----------
    %(classes)s
    prior_ : ndarray of float, shape (n_classes,)
        The same training label mix as ``class_prior_``: the probabilities the labels are
        drawn with.
    default_target_ : str
        The target seen most often in training ("" if none); not used by the prediction.
    """

    def __init__(self, seed: int = 0):
        self.seed = seed

    def predict_proba(self, X):
        n = len(self._inputs(X)[0])
        draws = np.random.default_rng(self.seed).choice(len(self.classes_), size=n, p=self.prior_)
        return np.eye(len(self.classes_))[draws]

    def lean_spec(self, spec) -> dict:
        from stance.errors import NotExportable

        raise NotExportable("the stratified baseline draws its predictions at random; it has no lean export")
