"""train(cfg) on the tiny corpus with the real conf/ and a real sqlite MLflow store."""

import json

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from stance.engine import train
from stance.errors import StanceError
from stance.labels import LABELS


def test_train_returns_metrics_predictions_and_model(make_cfg, tiny_corpus):
    result = train(make_cfg("model=tfidf_logreg"))
    ids = [json.loads(line)["id"] for line in tiny_corpus.read_text().splitlines()]
    oof = result.predictions
    assert sorted(oof["id"]) == sorted(ids)  # every statement predicted once, out of fold
    probabilities = oof[[f"p_{label}" for label in LABELS]].to_numpy()
    assert np.allclose(probabilities.sum(axis=1), 1.0)
    assert (oof["predicted"] == [LABELS[i] for i in probabilities.argmax(axis=1)]).all()
    for _, row in oof.iterrows():  # the held-out article is the statement's own
        assert row["group"] in row["held_out"].split("+")
    # doc2 and doc3 share a quote, so they are held out together: 3 folds from 4 articles
    assert len(result.folds) == 3 and result.metrics["n_folds"] == 3
    for key in ("macro_f1", "f_avg", "accuracy"):
        m = result.metrics
        assert m[f"{key}_ci_low"] <= m[f"{key}_mean"] <= m[f"{key}_ci_high"]
        assert m[f"{key}_mean"] == pytest.approx(np.mean([f[key] for f in result.folds]))
    assert result.metrics["fit_seconds"] > 0 and result.metrics["predict_per_second"] > 0
    assert list(result.model.classes_) == ["neutral", "oppose", "support"]


def test_same_config_gives_identical_metrics(make_cfg):
    first = train(make_cfg("model=tfidf_svm"))
    second = train(make_cfg("model=tfidf_svm"))
    assert first.metrics == {**second.metrics, "fit_seconds": first.metrics["fit_seconds"],
                             "predict_per_second": first.metrics["predict_per_second"]}
    pd.testing.assert_frame_equal(first.predictions, second.predictions)
    assert first.run_id != second.run_id


def test_other_evaluations(make_cfg):
    result = train(make_cfg("model=majority", "eval=stratified_kfold", "eval.splitter.n_splits=3"))
    assert len(result.folds) == 3 and result.tags["stance.eval"] == "StratifiedKFold"


def test_missing_config_value_fails_before_training(make_cfg):
    cfg = make_cfg("data=table", "data.path=???")
    with pytest.raises(StanceError, match="missing config value 'data.path'"):
        train(cfg)
    assert MlflowClient(cfg.tracking.uri).search_experiments()[0].name == "Default"  # nothing logged


def test_bad_model_parameter_fails_before_training(make_cfg):
    with pytest.raises(StanceError, match="model.estimator: .*unexpected keyword argument 'colour'"):
        train(make_cfg("+model.estimator.colour=red"))


def test_data_errors_stay_one_line(make_cfg, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("text,label\nhello,maybe\n")
    with pytest.raises(StanceError, match=r"bad\.csv:2: unknown label 'maybe'"):
        train(make_cfg("data=table", f"data.path={path}", "data.target=t"))


def test_a_fold_with_one_label_is_a_clear_error(make_cfg, tmp_path):
    path = tmp_path / "one_label.csv"
    path.write_text("text,label,doc\n" + "".join(f"statement {i},oppose,d{i % 2}\n" for i in range(6)))
    cfg = make_cfg("data=table", f"data.path={path}", "data.target=t", "data.group_column=doc")
    with pytest.raises(StanceError, match="fold 1 .*only one label"):
        train(cfg)


def test_stale_mlflow_run_id_is_ignored(make_cfg, monkeypatch):
    cfg = make_cfg("model=majority")
    mlflow.set_tracking_uri(cfg.tracking.uri)
    stale = MlflowClient(cfg.tracking.uri).create_run("0").info.run_id
    monkeypatch.setenv("MLFLOW_RUN_ID", stale)
    result = train(cfg)
    assert result.run_id != stale
