import numpy as np
import pytest

from stance.data import FixedSplits, ArticleKFold, StratifiedStatementKFold, load_corpus
from stance.data.dedup import containment, near_duplicate_pairs, shingles
from stance.errors import StanceError


@pytest.fixture
def seed_corpus(root):
    return load_corpus(root / "annotations/gold.jsonl")


def test_containment_finds_a_quote_inside_a_longer_sentence():
    quote = "“I specifically asked him that question. He has no problem with it.”"
    longer = "Trump said, “Yeah. I specifically asked him that question. He has no problem with it.”"
    assert containment(shingles(quote), shingles(longer)) == 1.0
    assert near_duplicate_pairs([quote, "Totally different words here today", longer]) == [(0, 2, 1.0)]


def test_grouped_kfold_on_the_seed_corpus_keeps_groups_and_near_duplicates_apart(seed_corpus):
    data = seed_corpus["train"]
    texts, groups = data["text"], data["group"]
    folds = ArticleKFold().indices(groups, texts, data["label"])
    tested = np.concatenate([te for _, _, te in folds])
    assert sorted(tested.tolist()) == list(range(len(data)))  # every statement tested once
    dup_pairs = [(i, j) for i, j, _ in near_duplicate_pairs(texts)]
    cross_document = [(i, j) for i, j in dup_pairs if groups[i] != groups[j]]
    assert cross_document, "seeds 001 and 002 share quotes: the test must see them"
    for _, train, test in folds:
        assert not {groups[i] for i in train} & {groups[i] for i in test}
        test_set = set(test.tolist())
        for i, j in dup_pairs:
            assert (i in test_set) == (j in test_set), (texts[i], texts[j])
    # 001 and 002 share quotes, so they are held out together: 4 folds from 5 articles
    assert len(folds) == len(set(groups)) - 1
    assert any("001_" in name and "002_" in name for name, _, _ in folds)


def test_grouped_kfold_with_fewer_splits_is_seeded(seed_corpus):
    data = seed_corpus["train"]
    run = lambda seed: [te.tolist() for _, _, te in
                        ArticleKFold(n_splits=2, seed=seed).indices(data["group"], data["text"], data["label"])]
    assert run(0) == run(0)
    assert len(run(0)) == 2
    folds = ArticleKFold(n_splits=2).split(seed_corpus)
    for fold in folds:
        assert not set(fold.train["group"]) & set(fold.test["group"])


def test_grouped_kfold_needs_two_groups():
    with pytest.raises(StanceError, match="at least 2 groups"):
        ArticleKFold().indices(["a", "a"], ["x y z", "u v w"], [0, 1])


def test_stratified_kfold_is_stratified_and_reproducible(seed_corpus):
    labels = np.asarray(seed_corpus["train"]["label"])
    folds = StratifiedStatementKFold(n_splits=5, seed=3).indices(labels)
    again = StratifiedStatementKFold(n_splits=5, seed=3).indices(labels)
    assert all((a[1] == b[1]).all() for a, b in zip(folds, again))
    overall = np.bincount(labels, minlength=3) / len(labels)
    for _, test in folds:
        share = np.bincount(labels[test], minlength=3) / len(test)
        assert np.abs(share - overall).max() < 0.1
    assert sorted(np.concatenate([te for _, te in folds]).tolist()) == list(range(len(labels)))


def test_stratified_kfold_refuses_too_few_of_a_label():
    with pytest.raises(StanceError, match="the rarest has 1"):
        StratifiedStatementKFold(n_splits=2).indices([0, 0, 0, 1])


def test_fixed_splits(tiny_tweeteval, seed_corpus):
    [fold] = FixedSplits().split(load_corpus(tiny_tweeteval))
    assert (len(fold.train), len(fold.validation), len(fold.test)) == (6, 2, 4)
    with pytest.raises(StanceError, match="no 'test' split"):
        FixedSplits().split(seed_corpus)
