import numpy as np
import pytest

from stance.scores import decision_proba, in_label_order, softmax


def test_softmax_rows_sum_to_one_and_survive_large_scores():
    proba = softmax(np.array([[1000.0, 1000.0, 0.0], [0.0, 1.0, 2.0]]))
    assert np.allclose(proba.sum(axis=1), 1.0)
    assert proba[0, 0] == pytest.approx(0.5) and proba[0, 2] == pytest.approx(0.0)
    assert np.argmax(proba[1]) == 2


def test_a_two_class_decision_function_means_minus_s_and_s():
    proba = decision_proba(np.array([0.0, 2.0, -2.0]))
    assert proba.shape == (3, 2) and np.allclose(proba[0], [0.5, 0.5])
    assert proba[1, 1] > 0.9 and proba[2, 0] > 0.9
    assert np.allclose(decision_proba(np.array([[1.0, 2.0, 3.0]])), softmax(np.array([[1.0, 2.0, 3.0]])))


def test_label_order_puts_columns_in_place_and_fills_unseen_labels():
    # a model that saw two labels, in alphabetical order
    full = in_label_order(np.array([[0.2, 0.8], [0.6, 0.4]]), ["neutral", "support"])
    assert np.allclose(full, [[0.8, 0.0, 0.2], [0.4, 0.0, 0.6]])  # support, oppose, neutral
    assert np.allclose(in_label_order(np.array([0.3, 0.7]), ["oppose", "support"]), [0.7, 0.3, 0.0])
    assert np.allclose(in_label_order(np.array([[1.0, 0.0]]), ["other", "oppose"]), [[0.0, 0.0, 0.0]])
    assert np.allclose(in_label_order(np.array([[0.1, 0.9]]), ["b", "a"], labels=["a", "b"]), [[0.9, 0.1]])
