import numpy as np
import pytest
from sklearn.metrics import f1_score

from stance.evaluation.metrics import (bootstrap_fold_means, fold_metrics, per_target_scores, scores_from_confusion, summarise,
                            target_key)

GOLD = ["support", "support", "oppose", "oppose", "neutral", "neutral"]
PRED = ["support", "oppose", "oppose", "oppose", "neutral", "support"]


def test_fold_metrics_against_hand_computed_values():
    m = fold_metrics(GOLD, PRED)
    # support: tp 1, fp 1, fn 1 -> F1 1/2; oppose: tp 2, fp 1, fn 0 -> F1 4/5; neutral: tp 1, fn 1 -> F1 2/3
    assert m["f1_support"] == pytest.approx(0.5)
    assert m["f1_oppose"] == pytest.approx(0.8)
    assert m["f1_neutral"] == pytest.approx(2 / 3)
    assert m["precision_oppose"] == pytest.approx(2 / 3) and m["recall_oppose"] == pytest.approx(1.0)
    assert m["macro_f1"] == pytest.approx((0.5 + 0.8 + 2 / 3) / 3)
    assert m["f_avg"] == pytest.approx((0.5 + 0.8) / 2)
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["confusion"] == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]  # rows gold, columns predicted
    assert m["n"] == 6


def test_macro_f1_leaves_out_labels_absent_from_gold_and_predictions():
    m = fold_metrics(["oppose", "neutral"], ["oppose", "neutral"])
    assert m["macro_f1"] == pytest.approx(1.0) and m["f_avg"] == pytest.approx(1.0)


def test_vectorised_scores_match_scikit_learn():
    rng = np.random.default_rng(0)
    labels = np.array(["support", "oppose", "neutral"])
    for _ in range(100):
        gold, pred = labels[rng.integers(0, 3, 20)], labels[rng.integers(0, 3, 20)]
        cm = fold_metrics(gold, pred)["confusion"]
        present = sorted(set(gold) | set(pred))
        assert scores_from_confusion(np.array(cm))["macro_f1"] == pytest.approx(
            f1_score(gold, pred, average="macro", labels=present))


def test_bootstrap_of_perfect_predictions_is_a_point_and_seeded():
    folds = [(GOLD, GOLD), (GOLD[:4], GOLD[:4])]
    per_fold = [fold_metrics(g, p) for g, p in folds]
    summary = summarise(per_fold, folds, n_resamples=200, seed=1)
    assert summary["macro_f1_mean"] == 1.0 and summary["macro_f1_std"] == 0.0
    assert summary["macro_f1_ci_low"] == summary["macro_f1_ci_high"] == 1.0
    noisy = [(GOLD * 5, PRED * 5), (PRED * 5, GOLD * 5)]
    a = bootstrap_fold_means(noisy, 300, seed=7)["macro_f1"]
    b = bootstrap_fold_means(noisy, 300, seed=7)["macro_f1"]
    assert (a == b).all() and a.std() > 0


def test_ci_covers_the_mean_and_narrows_with_more_statements():
    rng = np.random.default_rng(3)
    labels = np.array(["support", "oppose", "neutral"])

    def width(n):
        gold = labels[rng.integers(0, 3, n)]
        pred = np.where(rng.random(n) < 0.7, gold, labels[rng.integers(0, 3, n)])
        folds = [(gold[: n // 2], pred[: n // 2]), (gold[n // 2 :], pred[n // 2 :])]
        s = summarise([fold_metrics(*f) for f in folds], folds, n_resamples=500, seed=0)
        assert s["macro_f1_ci_low"] <= s["macro_f1_mean"] <= s["macro_f1_ci_high"]
        return s["macro_f1_ci_high"] - s["macro_f1_ci_low"]

    assert width(2000) < width(60)


def test_tweeteval_metric_pools_the_targets_hand_computed():
    # target A: gold support, oppose, neutral, support; predicted support, support, neutral, oppose
    # target B: gold oppose, oppose, neutral, support; predicted all correct
    gold = ["support", "oppose", "neutral", "support"] + ["oppose", "oppose", "neutral", "support"]
    pred = ["support", "support", "neutral", "oppose"] + ["oppose", "oppose", "neutral", "support"]
    # pooled: support 2 right of 3 gold and 3 predicted -> F1 2/3; oppose 2 of 3 and 3 -> F1 2/3
    assert fold_metrics(gold, pred)["f_avg"] == pytest.approx(2 / 3)
    # not the mean of the targets' own F_avg ((0.5 + 0) / 2 = 0.25 for A, 1 for B: 0.625)
    per_target = [fold_metrics(gold[k:k + 4], pred[k:k + 4])["f_avg"] for k in (0, 4)]
    assert per_target == [pytest.approx(0.25), pytest.approx(1.0)]
    # each target's own scores, as reported beside the pooled one
    scores = per_target_scores(["A"] * 4 + ["B"] * 4, gold, pred)
    assert list(scores) == ["A", "B"]
    assert scores["A"]["f_avg"] == pytest.approx(0.25) and scores["A"]["accuracy"] == pytest.approx(0.5)
    assert scores["B"] == {"macro_f1": 1.0, "f_avg": 1.0, "accuracy": 1.0, "n": 4.0}


def test_target_keys_are_metric_safe():
    assert target_key("Climate Change is a Real Concern") == "climate_change_is_a_real_concern"
    assert target_key("Hillary Clinton!") == "hillary_clinton"
    assert target_key("???") == "target"
