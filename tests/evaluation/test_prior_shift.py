"""Prior-shift correction: pure functions, the evaluation option and the prediction option."""

import numpy as np
import pytest

from stance.errors import StanceError
from stance.labels import LABELS
from stance.evaluation.prior_shift import adjust, em_prior, parse_mix, shift


def calibrated(prior: np.ndarray, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Labels drawn from ``prior`` and the exact posteriors of a model trained on a uniform mix
    whose class-conditional scores are known (three Gaussian clusters in one dimension)."""
    rng = np.random.default_rng(seed)
    y = rng.choice(3, size=n, p=prior)
    x = rng.normal(loc=y.astype(float), scale=0.5)
    likelihood = np.exp(-((x[:, None] - np.arange(3)[None, :]) ** 2) / (2 * 0.5**2))
    return y, likelihood / likelihood.sum(axis=1, keepdims=True)  # posteriors under a uniform prior


def test_adjust_to_the_training_mix_changes_nothing_and_rows_sum_to_one():
    proba = np.array([[0.2, 0.5, 0.3], [0.6, 0.1, 0.3]])
    train = np.array([0.3, 0.3, 0.4])
    assert np.allclose(adjust(proba, train, train), proba)
    moved = adjust(proba, train, np.array([0.1, 0.8, 0.1]))
    assert np.allclose(moved.sum(axis=1), 1) and (moved[:, 1] > proba[:, 1]).all()


def test_a_label_unseen_in_training_keeps_probability_zero():
    moved = adjust(np.array([[0.7, 0.3, 0.0]]), np.array([0.5, 0.5, 0.0]), np.array([0.2, 0.2, 0.6]))
    assert moved[0, 2] == 0 and moved.sum() == pytest.approx(1)


def test_em_recovers_a_shifted_label_mix_and_improves_accuracy():
    true_prior = np.array([0.1, 0.6, 0.3])
    y, proba = calibrated(true_prior, 4000)
    estimated, adjusted = em_prior(proba, np.full(3, 1 / 3))
    assert np.abs(estimated - true_prior).max() < 0.03
    assert (adjusted.argmax(axis=1) == y).mean() > (proba.argmax(axis=1) == y).mean()


def test_em_on_the_training_mix_stays_near_it():
    y, proba = calibrated(np.full(3, 1 / 3), 3000, seed=1)
    estimated, _ = em_prior(proba, np.full(3, 1 / 3))
    assert np.abs(estimated - 1 / 3).max() < 0.03


def test_shift_settings_and_their_errors():
    proba, train = np.array([[0.5, 0.25, 0.25]]), np.full(3, 1 / 3)
    assert np.array_equal(shift(proba, train, None, LABELS), proba)
    given = shift(proba, train, {"oppose": 2, "support": 1, "neutral": 1}, LABELS)
    assert np.allclose(given, adjust(proba, train, np.array([0.25, 0.5, 0.25])))
    with pytest.raises(StanceError, match="unknown prior shift 'magic'"):
        shift(proba, train, "magic", LABELS)
    with pytest.raises(StanceError, match="unknown label.*against"):
        shift(proba, train, {"against": 1.0}, LABELS)
    assert parse_mix("em") == "em" and parse_mix("support=0.2, oppose=0.8") == {"support": 0.2, "oppose": 0.8}
    with pytest.raises(StanceError, match="'oppose=lots' is not LABEL=SHARE"):
        parse_mix("support=0.2,oppose=lots")


def test_models_record_their_training_mix():
    import pandas as pd

    from stance.models import TfidfClassifier
    from stance.models.base import prior_by_label

    X = pd.DataFrame({"text": ["we send troops", "no troops ever", "talks go on", "no troops"], "target": "t"})
    model = TfidfClassifier().fit(X, np.array(["support", "oppose", "neutral", "oppose"]))
    assert np.allclose(prior_by_label(model), [0.25, 0.5, 0.25])  # LABELS order: support, oppose, neutral
    del model.class_prior_
    with pytest.raises(StanceError, match="records no training label mix"):
        prior_by_label(model)


def test_evaluation_with_prior_shift_re_weights_each_fold(make_cfg):
    from stance.experiment.engine import train

    plain = train(make_cfg("model=tfidf_logreg"))
    shifted = train(make_cfg("model=tfidf_logreg", "eval.prior_shift=em"))
    p = [f"p_{label}" for label in LABELS]
    assert np.allclose(shifted.predictions[p].sum(axis=1), 1)
    assert not np.allclose(shifted.predictions[p].to_numpy(), plain.predictions[p].to_numpy())
    with pytest.raises(StanceError, match="eval.prior_shift must be null or one of em, not 'guess'"):
        train(make_cfg("model=tfidf_logreg", "eval.prior_shift=guess"))


def test_predict_with_prior_shift(registered):
    from stance.serving.predict import predict

    texts = ["France is ready to send troops.", "Russia rejects foreign troops.", "Talks continue in Riyadh."]
    plain = predict(texts, model_uri=registered["model"], tracking_uri=registered["uri"])
    leaning = predict(texts, model_uri=registered["model"], tracking_uri=registered["uri"],
                      prior_shift={"support": 0.05, "oppose": 0.9, "neutral": 0.05})
    assert (leaning["p_oppose"] > plain["p_oppose"]).all()
    assert np.allclose(leaning[[f"p_{label}" for label in LABELS]].sum(axis=1), 1)
    assert (leaning["label"] == leaning[[f"p_{label}" for label in LABELS]].idxmax(axis=1).str[2:]).all()
    em = predict(texts, model_uri=registered["model"], tracking_uri=registered["uri"], prior_shift="em")
    assert list(em.columns) == list(plain.columns)


@pytest.mark.slow
def test_finetune_class_weights_change_the_training(tiny_corpus):
    import json

    import pandas as pd

    from stance.models import FineTuneClassifier

    records = [json.loads(line) for line in tiny_corpus.read_text().splitlines()]
    X = pd.DataFrame({"text": [r["text"] for r in records], "target": [r["target"] for r in records]})
    y = np.array([r["label"] for r in records])
    keep = np.flatnonzero(y != "support")[:12].tolist() + np.flatnonzero(y == "support")[:3].tolist()
    X, y = X.iloc[keep].reset_index(drop=True), y[keep]  # unbalanced: 3 support, 12 others
    plain = FineTuneClassifier(max_steps=3, batch_size=4, seed=3).fit(X, y).predict_proba(X)
    weighted = FineTuneClassifier(max_steps=3, batch_size=4, seed=3, class_weight="balanced").fit(X, y)
    assert weighted.predict_proba(X).shape == plain.shape
    assert not np.allclose(weighted.predict_proba(X), plain)
