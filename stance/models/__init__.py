"""The model zoo: every class keeps the contract of :mod:`stance.models.base`.

Heavy libraries (torch, transformers, setfit) are imported only when a model is fitted.
"""

from stance.models.base import StanceClassifier, load_estimator
from stance.models.baselines import MajorityClass, StratifiedRandom
from stance.models.embed import EmbeddingLogReg
from stance.models.ensemble import Calibrated, StackingEnsemble
from stance.models.setfit import SetFitClassifier
from stance.models.tfidf_embed import TfidfEmbeddingClassifier
from stance.models.tfidf import TfidfClassifier
from stance.models.finetune import FineTuneClassifier

__all__ = [
    "Calibrated",
    "StackingEnsemble",
    "EmbeddingLogReg",
    "MajorityClass",
    "SetFitClassifier",
    "StanceClassifier",
    "StratifiedRandom",
    "TfidfClassifier",
    "TfidfEmbeddingClassifier",
    "FineTuneClassifier",
    "load_estimator",
]
