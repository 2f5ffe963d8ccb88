"""Hostile text: arbitrary Unicode, empty and very long strings, control characters and mixed
scripts through the data layer, every model's predict path and ``stance predict``. Each input
gets a label, or the whole input gets one clear error; nothing crashes."""

import json
import re

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import ROOT, TINY_CORPUS
from stance.errors import StanceError
from stance.labels import LABELS

#: Strings hardly anyone types but scrapers, OCR and copy-paste produce.
NASTY = ["", " ", "\x00", "\t\n\r", "\u200b\u200d\ufeff", "\u202eevil\u202c", "🇺🇦🪖" * 50, "e\u0301" * 300,
         "Москва отвергла ввод войск; 北京呼吁克制; العربية; עברית; हिन्दी.", "\ud7ff\ue000\U0010fffd",
         "Troops " * 3000, "\x1b[31mred\x1b[0m", "a\u2028b\u2029c\x85d", "\\N{NULL} %s {0} ${x}"]
CONTROL = st.characters(categories=["Cc", "Cf", "Zs", "Zl", "Zp", "Mn", "Co"])
hostile_text = st.one_of(
    st.text(max_size=200),                                      # any Unicode (surrogates aside)
    st.text(alphabet=CONTROL, max_size=50),                     # control and invisible characters
    st.builds(lambda piece, times: piece * times, st.text(min_size=1, max_size=20), st.integers(100, 500)),
    st.sampled_from(NASTY),
)
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ----------------------------------------------------------------------------- the data layer
@SETTINGS
@given(texts=st.lists(hostile_text, min_size=1, max_size=6))
def test_data_layer_loads_any_text_or_names_the_bad_line(texts, tmp_path_factory):
    from stance.data import load_corpus

    path = tmp_path_factory.mktemp("hostile") / "corpus.jsonl"
    rows = [{"text": t, "label": LABELS[k % 3]} for k, t in enumerate(texts)]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    try:
        corpus = load_corpus(path, format="table", target="foreign troops")
    except StanceError as exc:
        blank = next(k for k, t in enumerate(texts, start=1) if not t.strip())
        assert str(exc) == f"{path}:{blank}: empty or missing 'text'"
        return
    assert all(t.strip() for t in texts)
    assert corpus["train"]["text"] == texts  # kept exactly, whatever the script or control characters
    assert [LABELS[i] for i in corpus["train"]["label"]] == [r["label"] for r in rows]


@SETTINGS
@given(texts=st.lists(hostile_text, min_size=1, max_size=6))
def test_csv_with_any_text_loads_or_is_one_clear_error(texts, tmp_path_factory):
    from stance.data import load_corpus

    path = tmp_path_factory.mktemp("hostile") / "corpus.csv"
    pd.DataFrame({"text": texts, "label": "support"}).to_csv(path, index=False)
    try:
        corpus = load_corpus(path, format="table", target="foreign troops")
    except StanceError as exc:
        assert len(str(exc).splitlines()) == 1 and str(exc).startswith(f"{path}:")
        return
    assert len(corpus["train"]) == len(texts)


# ----------------------------------------------------------------------------- every model
MODELS = sorted(path.stem for path in (ROOT / "conf" / "model").glob("*.yaml"))  # every model, new ones too


@pytest.fixture(scope="module")
def fitted():
    """Every model of conf/model, fitted once on a tiny corpus (debug settings: one step)."""
    from stance.experiment.config import compose
    from stance.experiment.estimators import make_estimator

    rows = [(text, label) for statements in TINY_CORPUS.values() for text, label in statements]
    X = pd.DataFrame({"text": [t for t, _ in rows], "target": "foreign troops in Ukraine"})
    y = np.array([label for _, label in rows])
    models = {}
    for name in MODELS:
        models[name] = make_estimator(compose([f"model={name}", "debug=true", "backbone=minilm",
                                                 f"paths.root={ROOT}"])).fit(X, y)
    return models


def check_probabilities(model, texts, targets):
    from stance.models.base import proba_by_label

    X = pd.DataFrame({"text": texts, "target": targets})
    proba = proba_by_label(model, X)
    assert proba.shape == (len(texts), len(LABELS))
    assert np.isfinite(proba).all() and (proba >= 0).all()
    assert np.allclose(proba.sum(axis=1), 1.0)
    assert set(model.predict(X)) <= set(LABELS)


@pytest.mark.slow
@pytest.mark.parametrize("name", MODELS)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts=st.lists(hostile_text, min_size=1, max_size=4), target=st.one_of(st.none(), hostile_text))
def test_every_model_gives_a_label_and_probabilities_for_any_text(fitted, name, texts, target):
    check_probabilities(fitted[name], texts, [target] * len(texts))


# ----------------------------------------------------------------------------- stance predict
def predict_cli(registered, args, stdin=None):
    from stance.cli.commands import main

    common = ["predict", "-m", registered["model"], "--tracking-uri", registered["uri"], "-f", "jsonl"]
    return CliRunner().invoke(main, [*common, *args], input=stdin, catch_exceptions=True)


def check_answer(result, expected_rows):
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    if expected_rows == 0:
        assert result.exit_code == 2
        assert re.fullmatch(r"error: (<stdin>: )?no statements to classify( \(\d+ blank skipped\))?",
                            result.stderr.strip().splitlines()[-1])
        return
    assert result.exit_code == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.split("\n") if line]  # JSON Lines: \n only
    assert len(rows) == expected_rows
    assert all(row["label"] in LABELS and abs(sum(row[f"p_{x}"] for x in LABELS) - 1) < 1e-6 for row in rows)


@pytest.mark.slow
@SETTINGS
@given(texts=st.lists(hostile_text, min_size=1, max_size=5))
def test_stance_predict_arguments_any_text(registered, texts):
    check_answer(predict_cli(registered, ["--", *texts]), sum(1 for t in texts if t.strip()))


@pytest.mark.slow
@SETTINGS
@given(texts=st.lists(hostile_text, min_size=1, max_size=5))
def test_stance_predict_standard_input_any_text(registered, texts):
    data = "\n".join(texts).encode("utf-8")  # one statement a line (Unicode line breaks count too)
    lines = data.decode("utf-8").splitlines()
    check_answer(predict_cli(registered, ["-i", "-"], stdin=data), sum(1 for t in lines if t.strip()))


@pytest.mark.slow
@SETTINGS
@given(texts=st.lists(hostile_text, min_size=1, max_size=5))
def test_stance_predict_jsonl_input_any_text(registered, texts):
    data = "".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in texts).encode("utf-8")
    check_answer(predict_cli(registered, ["-i", "-", "--input-format", "jsonl"], stdin=data),
                 sum(1 for t in texts if t.strip()))


def test_stance_predict_rejects_bytes_that_are_not_utf8(registered):
    result = predict_cli(registered, ["-i", "-"], stdin=b"fine\n\xff\xfe broken\n")
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == ["error: <stdin>:2: not valid UTF-8"]
