"""Deletion curves: the explained label's probability as words go, by the explanation and at random."""

import numpy as np
import pytest

from stance.evaluation.attribution import occlusion
from stance.evaluation.faithfulness import deletion_curves, faithfulness

from tests_helpers import LABELS, known_proba


def test_deletion_curves_fall_faster_by_the_explanation_than_at_random():
    texts = ["France is ready to send troops to Ukraine after the talks in Paris.",
             "Officials said they would send troops and were ready to go soon."]
    curves = []
    for k, text in enumerate(texts):
        explanation = occlusion(known_proba, text, LABELS)
        explained, random = deletion_curves(known_proba, text, explanation, k_max=4, draws=6, seed=k)
        assert explained.shape == random.shape == (5,)
        assert explained[0] == random[0] == pytest.approx(known_proba([text])[0, 0])
        assert np.all(np.diff(explained) <= 1e-12)  # deleting what helps the label never helps it
        assert explained[-1] < random[-1]
        curves.append((explained, random))
    summary = faithfulness(curves)
    assert summary.statements == 2 and summary.explained.shape == (5,)
    assert summary.difference == pytest.approx(summary.explained_drop - summary.random_drop) and summary.difference > 0
    again = deletion_curves(known_proba, texts[0], occlusion(known_proba, texts[0], LABELS), k_max=4, draws=6, seed=0)
    assert np.array_equal(again[1], curves[0][1])  # seeded
    short = deletion_curves(known_proba, "send troops", occlusion(known_proba, "send troops", LABELS), k_max=4)
    assert short[0].shape == (5,) and short[0][2] == short[0][4]  # nothing left to delete after two words
    with pytest.raises(ValueError, match="no deletion curves"):
        faithfulness([])


def test_random_draws_are_required():
    text = "send troops"
    with pytest.raises(ValueError, match="draws must be at least 1"):
        deletion_curves(known_proba, text, occlusion(known_proba, text, LABELS), draws=0)
