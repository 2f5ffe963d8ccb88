"""The lean prediction path: same answers as MLflow, a cache that is never used stale or corrupt,
a clear fall-back for families without a lean form, and a cold start free of heavy imports."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from stance.labels import LABELS
from stance.serving.onnx.cache import artefact_dir
from stance.serving.onnx.lookup import resolve_ref
from stance.serving.onnx.inference import tfidf
from stance.errors import NotExportable
from stance.serving.onnx.spec import Spec, collect_spec
from stance.serving.predict import load, predict
from stance.tracking.registry import register

ROOT = Path(__file__).resolve().parents[2]
#: How far a probability may move with 8-bit weights (blocks of 32 with their own scale).
W8_TOLERANCE = 0.02
PROBA = [f"p_{label}" for label in LABELS]
#: The families that export, through the configs users pick (the fine-tuned one in a one-step debug
#: run on the small encoder, which exports through the same code as a full run on mpnet).
EXPORTING = ["majority", "tfidf_logreg", "tfidf_svm", "tfidf_embed_svm", "embed_logreg",
             "finetune_base debug=true backbone=minilm"]


def corpus_texts() -> list[str]:
    """The project's article statements (real text the tiny models never saw)."""
    return [json.loads(line)["text"] for line in (ROOT / "annotations/gold.jsonl").read_text().splitlines()]


def trained(make_cfg, *overrides):
    from stance.experiment.engine import train

    cfg = make_cfg(*overrides)
    result = train(cfg)
    return cfg.tracking.uri, result


# ----------------------------------------------------------------------------- runtime pieces
@pytest.mark.parametrize("analyzer, ngrams", [("word", (1, 2)), ("char_wb", (2, 5)), ("char", (1, 3))])
def test_tfidf_block_matches_scikit_learn(analyzer, ngrams):
    from sklearn.feature_extraction.text import TfidfVectorizer

    train = corpus_texts()[:60] + ["Ünïcode  café\tnaïve — “quotes”", "a b c", "x"]
    test = corpus_texts()[60:] + ["", "   ", "Ünïcode CAFÉ", "\u200b zero width", "new words only zzqx"]
    vectorizer = TfidfVectorizer(analyzer=analyzer, ngram_range=ngrams, sublinear_tf=True).fit(train)
    spec = Spec()
    block = spec.tfidf(vectorizer, "text")
    lean = tfidf(block, spec.arrays, test)
    expected = vectorizer.transform(test).toarray()
    got = np.zeros_like(expected)
    for row, (index, values) in enumerate(lean.rows):
        got[row, index] = values
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)


def test_models_without_a_lean_form_say_why():
    from stance.models import Calibrated, SetFitClassifier, StackingEnsemble, StratifiedRandom

    for model, reason in [(StratifiedRandom(), "at random"), (SetFitClassifier(), "SetFitClassifier"),
                          (StackingEnsemble(), "StackingEnsemble"),
                          (Calibrated(), "Calibrated")]:
        model.classes_ = np.array(LABELS)
        with pytest.raises(NotExportable, match=reason):
            collect_spec(model)


def test_lookup_resolves_uris_without_mlflow_and_never_creates_a_store(registered, tmp_path):
    ref = resolve_ref(registered["model"], registered["uri"])
    assert ref.run_id == registered["run_id"] and ref.version == registered["version"].version
    by_version = resolve_ref(f"models:/stance-test/{ref.version}", registered["uri"])
    assert (by_version.run_id, by_version.source) == (ref.run_id, ref.source)
    assert resolve_ref(f"runs:/{ref.run_id}/model", registered["uri"]).run_id == ref.run_id
    assert resolve_ref("models:/stance-test@nosuchalias", registered["uri"]) is None
    assert resolve_ref("models:/stance-test@champion", f"sqlite:///{tmp_path}/absent.db") is None
    assert not (tmp_path / "absent.db").exists()


# ----------------------------------------------------------------------------- lean == MLflow
@pytest.mark.slow
@pytest.mark.parametrize("model", EXPORTING)
def test_lean_and_mlflow_paths_agree(make_cfg, model):
    model, *settings = model.split()
    uri, result = trained(make_cfg, f"model={model}", *settings)
    version = register(uri, result.run_id, f"lean-{model}", "champion")
    model_uri = f"models:/{version.name}@champion"
    texts = corpus_texts()
    lean = predict(texts, model_uri, uri)
    through_mlflow = predict(texts, model_uri, uri, lean=False)
    assert load(model_uri, uri).how == "lean fp32"
    assert lean["label"].tolist() == through_mlflow["label"].tolist()
    np.testing.assert_allclose(lean[PROBA].to_numpy(), through_mlflow[PROBA].to_numpy(), rtol=0, atol=1e-4)
    w8 = predict(texts, model_uri, uri, precision="w8")  # 8-bit weights: the fp32 answers, within rounding
    assert load(model_uri, uri, precision="w8").how == "lean w8"
    fp32, reduced = lean[PROBA].to_numpy(), w8[PROBA].to_numpy()
    assert np.abs(reduced - fp32).max() <= W8_TOLERANCE
    top2 = np.sort(fp32, axis=1)[:, -2:]
    clear = top2[:, 1] - top2[:, 0] > 2 * W8_TOLERANCE  # where rounding cannot swap the two best labels
    assert (w8["label"][clear] == lean["label"][clear]).all()
    int8 = predict(texts, model_uri, uri, precision="int8")
    assert np.allclose(int8[PROBA].sum(axis=1), 1.0) and set(int8["label"]) <= set(LABELS)
    if model.startswith("finetune"):  # int8 broke a fine-tuned classifier's labels: fp32, with a notice
        assert load(model_uri, uri, precision="int8").how == "lean fp32"
        assert int8["label"].tolist() == lean["label"].tolist()


@pytest.mark.slow
@pytest.mark.parametrize("model", ["tfidf_embed_svm", "embed_logreg"])
def test_hashtags_are_split_the_same_way_on_both_paths(make_cfg, model):
    from stance.serving.onnx.cache import prepare

    uri, result = trained(make_cfg, f"model={model}", "model.estimator.split_hashtags=true")
    version = register(uri, result.run_id, f"tags-{model}", "champion")
    model_uri = f"models:/{version.name}@champion"
    texts = ["#NoTroopsInUkraine now!", "Paris backs #BootsOnTheGround", "#ÜberTruppen #G7summit", "no tags here"]
    folder = artefact_dir(resolve_ref(model_uri, uri))
    assert str(folder) in prepare(model_uri, uri)
    [block] = [b for m in json.loads((folder / "spec.json").read_text())["models"].values()
               for b in m["features"] if b["kind"] == "embedding" and b["column"] == "text"]
    assert block["split_hashtags"] is True
    # fp32: with four statements, auto would take the 8-bit weights, within rounding of these
    lean, through_mlflow = predict(texts, model_uri, uri, precision="fp32"), predict(texts, model_uri, uri, lean=False)
    assert lean["label"].tolist() == through_mlflow["label"].tolist()
    np.testing.assert_allclose(lean[PROBA].to_numpy(), through_mlflow[PROBA].to_numpy(), rtol=0, atol=1e-4)


@pytest.mark.slow
def test_a_family_without_a_lean_form_falls_back_with_a_notice(make_cfg, caplog):
    uri, result = trained(make_cfg, "model=stratified")
    register(uri, result.run_id, "lean-stratified", "champion")
    with caplog.at_level("WARNING", logger="stance.serving.predict"):
        lean = predict(corpus_texts(), "models:/lean-stratified@champion", uri)
    [notice] = [r.getMessage() for r in caplog.records if r.name == "stance.serving.predict"]
    assert "at random" in notice and "predicting through MLflow" in notice
    through_mlflow = predict(corpus_texts(), "models:/lean-stratified@champion", uri, lean=False)
    assert lean["label"].tolist() == through_mlflow["label"].tolist()


# ----------------------------------------------------------------------------- the cache
@pytest.mark.slow
def test_a_moved_alias_is_followed_and_a_corrupt_artefact_rebuilt(make_cfg, caplog):
    uri, first = trained(make_cfg, "model=tfidf_logreg")
    _, second = trained(make_cfg, "model=tfidf_svm")
    model_uri = "models:/lean-moving@champion"
    texts = corpus_texts()
    register(uri, first.run_id, "lean-moving", "champion")
    before = predict(texts, model_uri, uri)
    folder_first = artefact_dir(resolve_ref(model_uri, uri))
    register(uri, second.run_id, "lean-moving", "champion")
    load.cache_clear()
    after = predict(texts, model_uri, uri)
    folder_second = artefact_dir(resolve_ref(model_uri, uri))
    assert folder_second != folder_first and (folder_second / "manifest.json").is_file()
    expected = predict(texts, model_uri, uri, lean=False)
    np.testing.assert_allclose(after[PROBA].to_numpy(), expected[PROBA].to_numpy(), atol=1e-4)
    assert not np.allclose(after[PROBA].to_numpy(), before[PROBA].to_numpy(), atol=1e-3)

    arrays = folder_second / "arrays.npz"
    data = bytearray(arrays.read_bytes())
    data[len(data) // 2] ^= 0xFF
    arrays.write_bytes(bytes(data))
    load.cache_clear()
    with caplog.at_level("WARNING", logger="stance.serving.onnx.cache"):
        rebuilt = predict(texts, model_uri, uri)
    assert any("arrays.npz does not match its checksum; rebuilding" in r.getMessage() for r in caplog.records)
    np.testing.assert_allclose(rebuilt[PROBA].to_numpy(), expected[PROBA].to_numpy(), atol=1e-4)
    manifest = json.loads((folder_second / "manifest.json").read_text())
    from stance.serving.onnx.export import sha256

    assert manifest["files"]["arrays.npz"] == sha256(arrays)


@pytest.mark.slow
def test_cold_cli_prediction_imports_no_heavy_library(registered):
    predict(["Warm the artefact."], registered["model"], registered["uri"])  # built once, as after registering
    probe = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from stance.cli.commands import main\n"
        f"result = CliRunner().invoke(main, ['predict', '-m', {registered['model']!r}, '--tracking-uri', "
        f"{registered['uri']!r}, '-f', 'csv', 'Moscow rejects any troops.'])\n"
        "print(result.output)\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'mlflow', 'torch', 'sklearn', 'pandas', "
        "'transformers', 'sentence_transformers', 'scipy'})\n"
        "print('HEAVY', heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert "HEAVY []" in out.stdout, out.stdout
    header, row = out.stdout.splitlines()[:2]
    assert header.startswith("id,text,target,label") and row.split(",")[3] in LABELS
