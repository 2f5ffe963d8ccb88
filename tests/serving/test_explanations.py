"""Explanations of logged models: exact linear contributions against scikit-learn's decision
scores, occlusion through the loaded model, the lean and MLflow paths alike, and the HTML page."""

import numpy as np
import pandas as pd
import pytest

from stance.errors import StanceError
from stance.evaluation.attribution import linear, remove
from stance.labels import LABELS
from stance.serving.explanations import explain, jsonl_text, linear_blocks, linear_form, strongest
from stance.serving.predict import classify

STATEMENTS = ["Moscow rejected French troops, calling the plan a threat!",
              "Britain is ready to put boots on the ground in Ukraine.",
              "The talks will resume after the holidays."]
TARGET = "foreign troops in Ukraine"


@pytest.fixture(scope="module")
def tiny_xy():
    from conftest import TINY_CORPUS

    texts = [t for statements in TINY_CORPUS.values() for t, _ in statements]
    labels = [label for statements in TINY_CORPUS.values() for _, label in statements]
    return pd.DataFrame({"text": texts, "target": TARGET}), labels


def _centred_scores(estimator, frame):
    """The scores the head turns into probabilities, minus their mean over classes, per class."""
    features, model = estimator.models_[None]
    encoded = features.transform(frame)
    if hasattr(model, "calibrated_classifiers_"):  # sigmoid-calibrated SVM: calibrated logits, mean over folds
        per_fold = []
        for calibrated in model.calibrated_classifiers_:
            scores = calibrated.estimator.decision_function(encoded)
            logits = np.column_stack([-(c.a_ * scores[:, k] + c.b_) for k, c in enumerate(calibrated.calibrators)])
            per_fold.append(logits - logits.mean(axis=1, keepdims=True))
        return np.mean(per_fold, axis=0)
    scores = model.decision_function(encoded)
    return scores - scores.mean(axis=1, keepdims=True)


@pytest.mark.parametrize("classifier", ["logreg", "svm"])
def test_linear_contributions_sum_to_the_decision_score_difference(tiny_xy, classifier):
    from stance.models import TfidfClassifier
    from stance.serving.predict import MlflowPredictor
    from stance.tracking.pyfunc import LoadedStanceModel

    estimator = TfidfClassifier(classifier=classifier).fit(*tiny_xy)
    spec, arrays = linear_form(MlflowPredictor(LoadedStanceModel(estimator)))
    frame = pd.DataFrame({"text": STATEMENTS, "target": TARGET})
    want = _centred_scores(estimator, frame)
    for row, text in enumerate(STATEMENTS):
        for label in LABELS:
            blocks, base = linear_blocks(spec, arrays, TARGET, label)
            explanation = linear(text, blocks, LABELS, LABELS.index(label), base=base)
            got = explanation.weights.sum() + explanation.rest
            assert got == pytest.approx(want[row, list(estimator.classes_).index(label)], abs=1e-9)


def test_models_that_are_not_linear_tfidf_have_no_linear_form(tiny_xy):
    from stance.models import MajorityClass
    from stance.serving.predict import MlflowPredictor
    from stance.tracking.pyfunc import LoadedStanceModel

    assert linear_form(MlflowPredictor(LoadedStanceModel(MajorityClass().fit(*tiny_xy)))) is None


def test_explain_the_registered_model_both_ways_and_both_paths(registered):
    model, uri = registered["model"], registered["uri"]
    predicted = classify(STATEMENTS, model, uri)
    auto = explain(STATEMENTS, model, uri)
    occluded = explain(STATEMENTS, model, uri, method="occlusion")
    through_mlflow = explain(STATEMENTS, model, uri, lean=False)
    for p, a, o, m in zip(predicted, auto, occluded, through_mlflow):
        assert a["method"] == m["method"] == "linear" and a["units"] == "decision score"
        assert o["method"] == "occlusion" and o["units"] == "probability"
        assert p["label"] == a["label"] == o["label"] == m["label"]
        assert a["confidence"] == pytest.approx(p["confidence"]) and o["confidence"] == pytest.approx(p["confidence"])
        assert [w["token"] for w in a["words"]] == [w["token"] for w in o["words"]]
        assert all(a["text"][w["start"] : w["end"]] == w["token"] for w in a["words"])
        # the lean artefact and the estimator give the same contributions
        assert [w["weight"] for w in a["words"]] == pytest.approx([w["weight"] for w in m["words"]], abs=1e-6)
    # occlusion's weights are the model's own probabilities with each word removed
    first = occluded[0]
    word = first["words"][0]
    text = first["text"]
    without = classify([remove(text, [(word["start"], word["end"])])], model, uri)[0]
    assert word["weight"] == pytest.approx(first["confidence"] - without[f"p_{first['label']}"], abs=1e-9)


def test_jsonl_keeps_the_strongest_words_and_the_linear_method_is_refused_where_it_cannot_run(registered):
    import json

    records = explain(STATEMENTS[:1], registered["model"], registered["uri"])
    line = json.loads(jsonl_text(records, 2))
    assert set(line) >= {"id", "text", "label", "confidence", *(f"p_{label}" for label in LABELS), "words"}
    assert line["words"] == strongest(records[0], 2) and len(line["words"]) == 2
    assert abs(line["words"][0]["weight"]) >= abs(line["words"][1]["weight"])
    with pytest.raises(StanceError, match="unknown method 'shap'"):
        explain(STATEMENTS[:1], registered["model"], registered["uri"], method="shap")


def test_the_html_page_escapes_and_highlights(registered):
    from stance.serving.explain_html import render

    hostile = '<script>alert("x")</script> Troops & "soldiers" go'
    records = explain([hostile, STATEMENTS[1]], registered["model"], registered["uri"], method="occlusion")
    page = render(records, 3, title="<b>t</b>")
    assert "<script" not in page and "</script" not in page and "&lt;b&gt;t&lt;/b&gt;" in page
    assert "&lt;" in page and "&amp;" in page and "&quot;" in page  # the statement's markup, as text
    assert "http" not in page and "<link" not in page and "src=" not in page  # self-contained
    assert page.count('class="statement"') == 2 and "towards the predicted label" in page
    assert "rgba(0, 140, 60" in page or "rgba(200, 30, 30" in page
