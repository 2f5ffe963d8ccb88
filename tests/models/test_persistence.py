"""Saved models are skops files: every family round-trips, pickles and untrusted types are refused."""

import functools
import pickle
from pathlib import Path

import numpy as np
import pytest
import skops.io
from sklearn.base import BaseEstimator

from stance.errors import StanceError
from stance.models import TfidfClassifier, load_estimator
from stance.models.base import ESTIMATOR_FILE, PICKLE_FILE

ROOT = Path(__file__).resolve().parents[2]

FAST = ["majority", "stratified", "tfidf_logreg", "tfidf_svm", "embed_logreg", "tfidf_embed_svm",
        "calibrated_tfidf_embed_svm", "stacking"]
TORCH = ["setfit", "finetune", "finetune_base"]


@pytest.fixture(scope="module")
def xy():
    from stance.data import load_corpus

    train = load_corpus(str(ROOT / "annotations/gold.jsonl"))["train"]
    frame = train.to_pandas().sample(60, random_state=0).reset_index(drop=True)
    names = train.features["label"].names
    return frame[["text", "target"]], np.array([names[i] for i in frame["label"]])


def family(name: str):
    from stance.experiment.config import compose
    from stance.experiment.estimators import make_estimator

    return make_estimator(compose([f"model={name}", "debug=true", "backbone=minilm", "external=none"]))


def round_trip(name, xy, tmp_path):
    X, y = xy
    estimator = family(name).fit(X, y)
    proba = estimator.predict_proba(X)
    folder = estimator.save(tmp_path / name)
    assert (folder / ESTIMATOR_FILE).is_file() and not (folder / PICKLE_FILE).exists()
    loaded = load_estimator(folder)
    assert type(loaded) is type(estimator)
    assert list(loaded.classes_) == list(estimator.classes_)
    np.testing.assert_array_equal(loaded.predict_proba(X), proba)


@pytest.mark.parametrize("name", FAST)
def test_every_family_round_trips_through_skops(name, xy, tmp_path):
    round_trip(name, xy, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("name", TORCH)
def test_torch_families_round_trip_through_skops(name, xy, tmp_path):
    round_trip(name, xy, tmp_path)


def test_per_target_tfidf_round_trips(xy, tmp_path):
    X, y = xy
    estimator = TfidfClassifier(per_target=True).fit(X, y)
    loaded = load_estimator(estimator.save(tmp_path / "m"))
    assert list(loaded.models_) == list(estimator.models_)
    np.testing.assert_array_equal(loaded.predict_proba(X), estimator.predict_proba(X))


def test_a_pickle_is_refused_with_one_line(xy, tmp_path):
    X, y = xy
    folder = tmp_path / "old"
    folder.mkdir()
    (folder / PICKLE_FILE).write_bytes(pickle.dumps(TfidfClassifier().fit(X, y)))
    with pytest.raises(StanceError) as caught:
        load_estimator(folder)
    message = str(caught.value)
    assert "\n" not in message and str(folder / PICKLE_FILE) in message
    assert "is a pickle: retrain or re-log the model (pickles are never loaded)" in message


def test_a_pickle_under_the_skops_name_is_refused(xy, tmp_path):
    folder = tmp_path / "renamed"
    folder.mkdir()
    (folder / ESTIMATOR_FILE).write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(StanceError, match="is not a skops file") as caught:
        load_estimator(folder)
    assert "\n" not in str(caught.value)


def test_untrusted_types_are_refused_with_one_line(xy, tmp_path):
    X, y = xy
    estimator = TfidfClassifier().fit(X, y)
    # a callable: skops trusts plain containers (OrderedDict, defaultdict) by default, not this
    estimator.extra_ = functools.partial(print, "hello")
    folder = tmp_path / "hostile"
    folder.mkdir()
    skops.io.dump(estimator, folder / ESTIMATOR_FILE)
    with pytest.raises(StanceError) as caught:
        load_estimator(folder)
    message = str(caught.value)
    assert "\n" not in message and str(folder / ESTIMATOR_FILE) in message
    assert "not trusted" in message and "functools.partial" in message and "builtins.print" in message


def test_a_foreign_class_is_refused(tmp_path):
    folder = tmp_path / "foreign"
    folder.mkdir()
    skops.io.dump(Foreign(), folder / ESTIMATOR_FILE)
    with pytest.raises(StanceError, match=r"not trusted.*test_persistence\.Foreign"):
        load_estimator(folder)


def test_a_missing_model_is_one_error(tmp_path):
    with pytest.raises(StanceError, match="holds no saved model"):
        load_estimator(tmp_path)


class Foreign(BaseEstimator):
    """A class from outside stance.models."""
