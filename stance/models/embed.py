"""Frozen sentence embeddings from a sentence-transformers encoder, then logistic regression."""

from __future__ import annotations

import numpy as np

from stance.models.base import StanceClassifier
from stance.models.encoders import FrozenEncoderInputs


class EmbeddingLogReg(FrozenEncoderInputs, StanceClassifier):
    """Logistic regression on frozen sentence embeddings (default: the packaged MiniLM).

    The features are the statement's embedding and, with ``use_target``, the target's
    embedding beside it. The encoder is not trained and not pickled: it is loaded again
    from ``pretrained`` when needed (once per process), on ``device`` (auto: a CUDA GPU when
    there is one). ``split_hashtags``: the encoder reads "#StopTheWar" as "Stop The War".

    Parameters
    ----------
    %(pretrained)s
    C : float, default=1.0
        Inverse regularisation strength of the logistic regression: smaller is stronger.
    class_weight : {"balanced"} or None, default="balanced"
        Passed to the logistic regression: "balanced" weighs each label by the inverse of its
        training frequency, None weighs every statement alike.
    batch_size : int, default=32
        Texts per batch when the encoder embeds them.
    use_target : bool, default=True
        Put the target's embedding beside the statement's (the target is embedded as it is,
        without hashtag splitting).
    %(encoder_device)s
    split_hashtags : bool, default=False
        Give the encoder each hashtag of a statement as words (:func:`stance.text.prepare`).
    seed : int, default=0
        ``random_state`` of the logistic regression.

    Attributes
    ----------
    %(fitted)s
    model_ : sklearn.linear_model.LogisticRegression
        The fitted logistic regression (``max_iter=2000``) on the embeddings, trained on class
        indices (positions in ``classes_``).
    """

    family = "embedding"

    def __init__(self, pretrained: str | None = None, C: float = 1.0, class_weight: str | None = "balanced",
                 batch_size: int = 32, use_target: bool = True, device: str = "auto", split_hashtags: bool = False,
                 seed: int = 0):
        self.pretrained = pretrained
        self.device = device
        self.split_hashtags = split_hashtags
        self.C = C
        self.class_weight = class_weight
        self.batch_size = batch_size
        self.use_target = use_target
        self.seed = seed

    def _embed(self, X) -> np.ndarray:
        from stance.models.encoders import embed
        from stance.text import prepare

        texts, targets = self._inputs(X)
        vectors = embed(self.pretrained, prepare(texts, self.split_hashtags), self.batch_size, self.device)
        if not self.use_target:
            return vectors
        return np.hstack([vectors, embed(self.pretrained, targets, self.batch_size, self.device)])

    def fit(self, X, y):
        from sklearn.linear_model import LogisticRegression

        self._remember_targets(X)
        encoded = self._set_classes(y)
        self.model_ = LogisticRegression(C=self.C, class_weight=self.class_weight, max_iter=2000,
                                         random_state=self.seed).fit(self._embed(X), encoded)
        return self

    def predict_proba(self, X):
        proba = self.model_.predict_proba(self._embed(X))
        full = np.zeros((proba.shape[0], len(self.classes_)))
        full[:, self.model_.classes_] = proba
        return full

    def lean_spec(self, spec) -> dict:
        features = [spec.embedding(self.pretrained, "text", split_hashtags=self.split_hashtags)]
        if self.use_target:
            features.append(spec.embedding(self.pretrained, "target"))
        return {"*": {"features": features, "head": spec.head(self.model_)}}
