"""Significance tests on constructed cases with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from stance.evaluation.metrics import fold_metrics
from stance.evaluation.significance import (approximate_randomisation, holm, mcnemar, paired_bootstrap_ci,
                                 score_difference)

GOLD = ["support", "oppose", "neutral"] * 20


def test_identical_predictions_give_p_one():
    noisy = ["oppose" if k % 4 == 0 else g for k, g in enumerate(GOLD)]
    folds = [(GOLD[:30], noisy[:30], noisy[:30]), (GOLD[30:], noisy[30:], noisy[30:])]
    assert score_difference(folds) == 0.0
    assert approximate_randomisation(folds, n_resamples=500) == 1.0
    assert mcnemar(GOLD, noisy, noisy).p_value == 1.0
    assert paired_bootstrap_ci(folds, n_resamples=200) == (0.0, 0.0)


def test_a_large_gap_gives_a_small_p():
    wrong = ["neutral" if g != "neutral" else "support" for g in GOLD]  # every statement wrong
    folds = [(GOLD[:30], GOLD[:30], wrong[:30]), (GOLD[30:], GOLD[30:], wrong[30:])]
    assert score_difference(folds) == pytest.approx(1.0)
    p = approximate_randomisation(folds, n_resamples=999, seed=1)
    assert p == pytest.approx(1 / 1000)  # no shuffle reaches the observed gap
    low, high = paired_bootstrap_ci(folds, n_resamples=200)
    assert low == high == pytest.approx(1.0)
    assert mcnemar(GOLD, GOLD, wrong).p_value < 1e-15


def test_the_difference_is_the_difference_of_fold_mean_macro_f1():
    rng = np.random.default_rng(3)
    labels = np.array(["support", "oppose", "neutral"])
    gold = labels[rng.integers(0, 3, 90)].tolist()
    a = [g if rng.random() < 0.7 else "neutral" for g in gold]
    b = [g if rng.random() < 0.5 else "oppose" for g in gold]
    folds = [(gold[k:k + 30], a[k:k + 30], b[k:k + 30]) for k in (0, 30, 60)]
    expected = np.mean([fold_metrics(g, x)["macro_f1"] - fold_metrics(g, y)["macro_f1"] for g, x, y in folds])
    assert score_difference(folds) == pytest.approx(expected)
    assert score_difference([(g, y, x) for g, x, y in folds]) == pytest.approx(-expected)
    low, high = paired_bootstrap_ci(folds, n_resamples=500)
    assert low < expected < high


def test_randomisation_is_seeded_and_symmetric():
    noisy_a = [g if k % 3 else "oppose" for k, g in enumerate(GOLD)]
    noisy_b = [g if k % 5 else "neutral" for k, g in enumerate(GOLD)]
    folds = [(GOLD, noisy_a, noisy_b)]
    p = approximate_randomisation(folds, n_resamples=300, seed=7)
    assert p == approximate_randomisation(folds, n_resamples=300, seed=7)
    assert p == approximate_randomisation([(GOLD, noisy_b, noisy_a)], n_resamples=300, seed=7)
    assert 0 < p <= 1


def test_mcnemar_matches_the_hand_computed_binomial():
    # A right and B wrong on 10 statements, the reverse on none: p = 2 * 0.5**10
    gold = ["support"] * 12
    a = ["support"] * 12
    b = ["oppose"] * 10 + ["support"] * 2
    result = mcnemar(gold, a, b)
    assert (result.a_only, result.b_only) == (10, 0)
    assert result.p_value == pytest.approx(2 * 0.5 ** 10)
    # 6 against 2 discordant pairs: P(X <= 2) + P(X >= 6) for X ~ Binomial(8, 1/2) = 74/256
    b = ["oppose"] * 6 + ["support"] * 6
    a = ["support"] * 6 + ["oppose"] * 2 + ["support"] * 4
    assert mcnemar(gold, a, b).p_value == pytest.approx(74 / 256)


def test_holm_adjusts_step_down_and_keeps_missing_values():
    adjusted = holm([0.01, 0.04, float("nan"), 0.03])
    assert adjusted[0] == pytest.approx(0.03)
    assert adjusted[3] == pytest.approx(0.06)
    assert adjusted[1] == pytest.approx(0.06)  # monotone: never below an earlier step
    assert math.isnan(adjusted[2])
    assert holm([0.5, 0.9]) == [1.0, 1.0]


def test_mismatched_lengths_are_an_error():
    with pytest.raises(ValueError, match="same length"):
        score_difference([(GOLD, GOLD[:-1], GOLD)])
