import pytest

from stance.annotation.agreement import agreement


def passes(first, second):
    a = [{"id": str(i), "label": lab} for i, lab in enumerate(first)]
    b = [{"id": str(i), "label": lab} for i, lab in enumerate(second)]
    return a, b


def test_against_hand_computed_values():
    # p_o = 3/4; marginals a: s .5, o .25, n .25; b: s .25, o .5, n .25 -> p_e = 0.3125
    # kappa = (0.75 - 0.3125) / 0.6875; alpha: D_o = 2/8, D_e = (64 - 22) / 56 -> 1 - 1/3
    result = agreement(*passes(["support", "support", "oppose", "neutral"],
                               ["support", "oppose", "oppose", "neutral"]))
    assert result.n == 4
    assert result.observed == pytest.approx(0.75)
    assert result.cohen_kappa == pytest.approx(0.4375 / 0.6875)
    assert result.krippendorff_alpha == pytest.approx(2 / 3)
    assert result.confusion.tolist() == [[1, 1, 0], [0, 1, 0], [0, 0, 1]]


def test_perfect_agreement_and_unpaired_ids():
    a, b = passes(["oppose", "neutral", "support"], ["oppose", "neutral", "support"])
    b.append({"id": "extra", "label": "oppose"})
    result = agreement(a, b)
    assert result.cohen_kappa == pytest.approx(1.0) and result.krippendorff_alpha == pytest.approx(1.0)
    assert (result.only_a, result.only_b) == (0, 1)


def test_no_shared_ids_is_an_error():
    with pytest.raises(ValueError, match="share no statement id"):
        agreement([{"id": "a", "label": "oppose"}], [{"id": "b", "label": "oppose"}])
