"""The model zoo: every class keeps the contract of :mod:`stance.models.base`.

Heavy libraries (torch, transformers, setfit) are imported only when a model is fitted.
"""

from stance.models.base import StanceClassifier, load_estimator
from stance.models.baselines import MajorityClass, StratifiedRandom
from stance.models.embedding import EmbeddingLogReg
from stance.models.fewshot import SetFitClassifier
from stance.models.hybrid import TfidfEmbeddingClassifier
from stance.models.sparse import TfidfClassifier
from stance.models.transformer import TransformerClassifier

__all__ = [
    "EmbeddingLogReg",
    "MajorityClass",
    "SetFitClassifier",
    "StanceClassifier",
    "StratifiedRandom",
    "TfidfClassifier",
    "TfidfEmbeddingClassifier",
    "TransformerClassifier",
    "load_estimator",
]
