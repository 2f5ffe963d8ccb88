"""TF-IDF n-grams and frozen sentence embeddings side by side, then a linear classifier."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from stance.models.base import fill_docs
from stance.models.tfidf import TfidfClassifier
from stance.models.encoders import FrozenEncoderInputs


class SentenceEmbedder(TransformerMixin, BaseEstimator):
    """A scikit-learn transformer: texts to (scaled) sentence embeddings of a frozen encoder.

    The encoder is loaded on first use, shared by every embedder of the same ``pretrained``
    in the process, and never pickled. ``split_hashtags``: the encoder reads "#StopTheWar"
    as "Stop The War" (:mod:`stance.text`).

    ``transform`` takes an iterable of texts (e.g. a DataFrame column) and returns an array of
    shape (n_texts, embedding size); ``fit`` learns nothing, so there are no fitted attributes.

    Parameters
    ----------
    %(pretrained)s
    weight : float, default=1.0
        Factor every embedding is multiplied by (its weight against other feature blocks).
    batch_size : int, default=64
        Texts per batch when the encoder embeds them.
    %(encoder_device)s
    split_hashtags : bool, default=False
        Give the encoder each hashtag as words (:func:`stance.text.prepare`).
    """
    __doc__ = fill_docs(__doc__)  # not a StanceClassifier: its shared texts are filled here

    def __init__(self, pretrained: str | None = None, weight: float = 1.0, batch_size: int = 64, device: str = "auto",
                 split_hashtags: bool = False):
        self.pretrained = pretrained
        self.weight = weight
        self.batch_size = batch_size
        self.device = device
        self.split_hashtags = split_hashtags

    def fit(self, X, y=None):
        return self

    def transform(self, X) -> np.ndarray:
        from stance.models.encoders import embed
        from stance.text import prepare

        texts = prepare([str(x) for x in X], self.split_hashtags)
        return embed(self.pretrained, texts, self.batch_size, self.device) * self.weight

    def lean_block(self, spec, column: str) -> dict:
        return spec.embedding(self.pretrained, column, self.weight, self.split_hashtags)


class TfidfEmbeddingClassifier(FrozenEncoderInputs, TfidfClassifier):
    """:class:`TfidfClassifier` whose features also hold the statement's sentence embedding.

    Sparse word and character n-grams capture the words of a stance; the frozen encoder
    (default: the packaged all-MiniLM-L6-v2) adds what the words mean.
    ``embedding_weight`` scales the unit-length embedding against the n-gram block;
    ``split_hashtags`` gives the encoder hashtags as words (the n-grams read the text as it is).

    Parameters
    ----------
    classifier : {"logreg", "svm"}, default="svm"
        "logreg": ``LogisticRegression``; "svm": ``LinearSVC`` with sigmoid calibration, as in
        :class:`TfidfClassifier` (note the different default).
    word_ngrams : tuple of (int, int), default=(1, 2)
        Smallest and largest word n-gram length (text lower-cased).
    char_ngrams : tuple of (int, int), default=(2, 5)
        Smallest and largest character n-gram length, inside word boundaries.
    min_df : int, default=1
        An n-gram is kept only if it occurs in at least this many training statements.
    sublinear_tf : bool, default=True
        Use ``1 + log(tf)`` instead of the raw term count.
    C : float, default=1.0
        Inverse regularisation strength of the classifier: smaller is stronger.
    class_weight : {"balanced"} or None, default="balanced"
        Passed to the classifier: "balanced" weighs each label by the inverse of its training
        frequency, None weighs every statement alike.
    use_target : bool, default=True
        Add the target, one-hot encoded, to the features (ignored when ``per_target`` is set);
        the target is not embedded.
    per_target : bool, default=False
        Train one feature pipeline and classifier per training target.
    %(pretrained)s
    embedding_weight : float, default=1.0
        Factor the statement's embedding is multiplied by, against the TF-IDF blocks (the
        packaged all-MiniLM-L6-v2 gives unit-length vectors).
    batch_size : int, default=64
        Texts per batch when the encoder embeds them.
    %(encoder_device)s
    split_hashtags : bool, default=False
        Give the encoder each hashtag as words (:func:`stance.text.prepare`).
    seed : int, default=0
        As in :class:`TfidfClassifier`.

    Attributes
    ----------
    %(classes)s
    default_target_ : str
        As in :class:`TfidfClassifier`.
    models_ : dict
        The fitted ``(features, classifier)`` pairs, as in :class:`TfidfClassifier` (key None,
        or one per training target); each ``ColumnTransformer`` also has the block "embedding",
        a :class:`SentenceEmbedder`.
    """

    family = "hybrid"

    def __init__(self, classifier: str = "svm", word_ngrams: tuple[int, int] = (1, 2),
                 char_ngrams: tuple[int, int] = (2, 5), min_df: int = 1, sublinear_tf: bool = True,
                 C: float = 1.0, class_weight: str | None = "balanced", use_target: bool = True,
                 per_target: bool = False, pretrained: str | None = None, embedding_weight: float = 1.0,
                 batch_size: int = 64, device: str = "auto", split_hashtags: bool = False, seed: int = 0):
        super().__init__(classifier=classifier, word_ngrams=word_ngrams, char_ngrams=char_ngrams, min_df=min_df,
                         sublinear_tf=sublinear_tf, C=C, class_weight=class_weight, use_target=use_target,
                         per_target=per_target, seed=seed)
        self.pretrained = pretrained
        self.embedding_weight = embedding_weight
        self.batch_size = batch_size
        self.device = device
        self.split_hashtags = split_hashtags

    def _feature_parts(self) -> list:
        embedder = SentenceEmbedder(self.pretrained, self.embedding_weight, self.batch_size, self.device,
                                    self.split_hashtags)
        return [*super()._feature_parts(), ("embedding", embedder, "text")]
