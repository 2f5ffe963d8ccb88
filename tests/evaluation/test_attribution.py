"""The explanation math: occlusion on a known function, exact linear contributions against
scikit-learn's own features, and a fold's errors explained with its model."""

import numpy as np
import pandas as pd
import pytest

from stance.evaluation.attribution import Block, describe, explain_errors, linear, ngrams, occlusion, remove, words

from tests_helpers import LABELS, known_proba


def test_words_and_removal_keep_spans_and_spacing():
    text = "Don't send pro-war U.S. troops, now!"
    found = words(text)
    assert [w.token for w in found] == ["Don't", "send", "pro-war", "U", "S", "troops", "now"]
    assert all(text[w.start : w.end] == w.token for w in found)
    assert remove("We will send troops now.", [(3, 7)]) == "We send troops now."
    assert remove("We will send troops", [(13, 19)]) == "We will send"
    assert remove("a b c", [(0, 1), (2, 3)]) == "c"


def test_occlusion_recovers_the_signs_and_ranking_of_a_known_model():
    text = "France is ready to send troops, but Moscow says never."
    calls = []
    explanation = occlusion(lambda t: calls.append(len(t)) or known_proba(t), text, LABELS)
    assert calls == [1 + len(words(text))]  # the statement and every copy, in one call
    assert explanation.label == "support" and explanation.method == "occlusion"
    weight = {w.token: x for w, x in zip(explanation.words, explanation.weights)}
    assert weight["send"] > weight["troops"] > weight["ready"] > 0 > weight["never"]
    assert all(weight[t] == pytest.approx(0.0) for t in ("France", "is", "to", "but", "Moscow", "says"))
    assert [w["token"] for w in explanation.top(2)] == ["send", "troops"]
    assert describe(explanation, 2).startswith("send +")
    # explaining another label flips what helps it
    against = occlusion(known_proba, text, LABELS, label=1)
    assert against.label == "oppose" and dict(zip([w.token for w in against.words], against.weights))["send"] < 0


def test_occlusion_over_spans_shares_each_window():
    text = "send troops to Kyiv"
    full = known_proba([text])[0, 0]
    drop = {window: full - known_proba([remove(text, [span])])[0, 0]
            for window, span in {"send troops": (0, 11), "troops to": (5, 14), "to Kyiv": (12, 19)}.items()}
    double = occlusion(known_proba, text, LABELS, span=2).weights
    assert double == pytest.approx([drop["send troops"], (drop["send troops"] + drop["troops to"]) / 2,
                                    (drop["troops to"] + drop["to Kyiv"]) / 2, drop["to Kyiv"]])
    assert drop["to Kyiv"] == pytest.approx(0.0) and drop["send troops"] > drop["troops to"] > 0
    assert len(occlusion(known_proba, text, LABELS, span=9).weights) == 4  # one window: the whole statement
    assert occlusion(known_proba, "", LABELS).words == []


@pytest.mark.parametrize("analyzer, ngram_range", [("word", (1, 2)), ("word", (2, 3)), ("char_wb", (2, 5)),
                                                   ("char", (1, 4))])
def test_ngrams_are_the_vectorizers_own(analyzer, ngram_range):
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(analyzer=analyzer, ngram_range=ngram_range)
    settings = {"analyzer": analyzer, "ngram_range": ngram_range, "lowercase": True,
                "token_pattern": vectorizer.token_pattern}
    for text in ["France is ready to send troops to   Ukraine, after a ceasefire.", "İstanbul said NO!! U.S. \t out",
                 "a", "", "pro-war don't  x"]:
        found = ngrams(text, settings)
        assert sorted(term for term, _ in found) == sorted(vectorizer.build_analyzer()(text))
        for term, pieces in found:  # every piece lies inside the text, in order
            assert all(0 <= a <= b <= len(text) for a, b in pieces)
    word = ngrams("Send troops now", {**settings, "analyzer": "word", "ngram_range": (1, 2)})
    assert ("send troops", [(0, 4), (5, 11)]) in word


def _fitted_blocks(texts, seed=0):
    from sklearn.feature_extraction.text import TfidfVectorizer

    rng = np.random.default_rng(seed)
    blocks, vectorizers = [], []
    for analyzer, ngram_range in (("word", (1, 2)), ("char_wb", (2, 5))):
        vectorizer = TfidfVectorizer(analyzer=analyzer, ngram_range=ngram_range, sublinear_tf=True).fit(texts)
        settings = {"analyzer": analyzer, "ngram_range": ngram_range, "lowercase": True,
                    "token_pattern": vectorizer.token_pattern, "sublinear_tf": True, "norm": "l2", "use_idf": True,
                    "vocabulary": {t: int(i) for t, i in vectorizer.vocabulary_.items()}}
        weights = rng.normal(size=len(vectorizer.vocabulary_))
        blocks.append(Block("tfidf", settings, weights, idf=vectorizer.idf_))
        vectorizers.append(vectorizer)
    return blocks, vectorizers


def test_linear_contributions_sum_to_the_score():
    texts = ["France is ready to send troops to Ukraine.", "Moscow says it will never accept troops, never!",
             "Talks continued in Riyadh on Tuesday."]
    blocks, vectorizers = _fitted_blocks(texts)
    target = Block("onehot", {"categories": ["troops", "nuclear"]}, np.array([0.7, -0.2]), value="troops")
    for text in [*texts, "Troops, troops and more TROOPS: send them."]:
        explanation = linear(text, [*blocks, target], LABELS, 0, base=0.25)
        score = 0.25 + 0.7 + sum(v.transform([text]).toarray()[0] @ b.weights for v, b in zip(vectorizers, blocks))
        assert explanation.weights.sum() + explanation.rest == pytest.approx(score, abs=1e-10)
        assert explanation.method == "linear" and len(explanation.weights) == len(words(text))


def test_a_unigram_model_gives_each_word_its_own_feature():
    from sklearn.feature_extraction.text import TfidfVectorizer

    texts = ["send troops now", "never send troops"]
    vectorizer = TfidfVectorizer().fit(texts)
    settings = {"analyzer": "word", "ngram_range": (1, 1), "lowercase": True, "token_pattern": vectorizer.token_pattern,
                "sublinear_tf": False, "norm": "l2", "use_idf": True, "vocabulary": dict(vectorizer.vocabulary_)}
    weights = np.arange(len(vectorizer.vocabulary_), dtype=float) - 1.5
    explanation = linear("Never send troops", [Block("tfidf", settings, weights, idf=vectorizer.idf_)], LABELS, 0)
    values = vectorizer.transform(["Never send troops"]).toarray()[0]
    for word, weight in zip(explanation.words, explanation.weights):
        index = vectorizer.vocabulary_[word.token.lower()]
        assert weight == pytest.approx(values[index] * weights[index])
    assert explanation.rest == pytest.approx(0.0)


def test_a_folds_errors_are_explained_with_its_model_most_confident_first():
    from stance.models import TfidfClassifier

    train = pd.DataFrame({"text": ["send troops now", "we will send soldiers", "never accept troops",
                                   "we reject any deployment", "talks resume on monday", "prices rose again"],
                          "target": "t"})
    model = TfidfClassifier().fit(train, ["support", "support", "oppose", "oppose", "neutral", "neutral"])
    texts = ["never send troops", "talks on troops", "prices of soldiers"]
    proba = model.predict_proba(pd.DataFrame({"text": texts, "target": "t"}))
    predicted = model.classes_[proba.argmax(axis=1)].tolist()
    gold = [next(label for label in LABELS if label != p) for p in predicted]  # all wrong
    rows = {"id": ["a", "b", "c"], "text": texts, "target": ["t"] * 3, "gold": gold, "predicted": predicted,
            "confidence": proba.max(axis=1).tolist()}
    explained = explain_errors(model, rows, limit=2)
    ranked = [i for _, i in sorted(zip(-proba.max(axis=1), "abc"))]
    assert sorted(explained) == sorted(ranked[:2])
    for key, line in explained.items():
        assert line and all(token.split()[0] in texts["abc".index(key)] for token in line.split(", "))
    assert explain_errors(model, rows, limit=0) == {}
    rows["gold"] = predicted  # nothing wrong, nothing explained
    assert explain_errors(model, rows, limit=5) == {}
