"""train(cfg) on the tiny corpus with the real conf/ and a real sqlite MLflow store."""

import json

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from stance.experiment.engine import train
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
    assert result.metrics["fit_seconds_mean"] == pytest.approx(np.mean([f["fit_seconds"] for f in result.folds]))
    assert result.metrics["fit_seconds_mean"] > 0 and result.metrics["predict_per_second_mean"] > 0
    assert list(result.model.classes_) == ["neutral", "oppose", "support"]


def test_same_config_gives_identical_metrics(make_cfg):
    first = train(make_cfg("model=tfidf_svm"))
    second = train(make_cfg("model=tfidf_svm"))
    assert first.metrics == {**second.metrics, "fit_seconds_mean": first.metrics["fit_seconds_mean"],
                             "predict_per_second_mean": first.metrics["predict_per_second_mean"]}
    pd.testing.assert_frame_equal(first.predictions, second.predictions)
    assert first.run_id != second.run_id


def test_other_evaluations(make_cfg):
    result = train(make_cfg("model=majority", "eval=stratified_kfold", "eval.splitter.n_splits=3"))
    assert len(result.folds) == 3 and result.tags["stance.eval"] == "StratifiedStatementKFold"


def test_missing_config_value_fails_before_training(make_cfg):
    cfg = make_cfg("data=table", "data.path=???")
    with pytest.raises(StanceError, match="missing config value 'data.path'"):
        train(cfg)
    assert MlflowClient(cfg.tracking.uri).search_experiments()[0].name == "Default"  # nothing logged


def test_bad_model_parameter_fails_before_training(make_cfg):
    from omegaconf import open_dict

    message = "model.estimator.colour: stance.models.TfidfClassifier has no parameter 'colour'"
    with pytest.raises(StanceError, match=message):
        make_cfg("+model.estimator.colour=red")  # at composition
    cfg = make_cfg()
    with open_dict(cfg):
        cfg.model.estimator.colour = "red"  # a config edited in Python after composition
    with pytest.raises(StanceError, match=message):
        train(cfg)
    assert not (make_cfg.store / "mlflow.db").exists()  # failed before the store was opened


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


def test_training_fraction_subsamples_each_training_fold(make_cfg):
    full = train(make_cfg("model=tfidf_logreg", "eval.refit=false"))
    half = train(make_cfg("model=tfidf_logreg", "eval.train_fraction=0.5", "eval.refit=false"))
    for whole, part in zip(full.folds, half.folds):
        assert part["n_train"] == pytest.approx(whole["n_train"] / 2, abs=3)  # about half of each label
        assert part["n"] == whole["n"]  # the test statements stay the same
    assert sorted(half.predictions["id"]) == sorted(full.predictions["id"])
    assert half.metrics["n_train_mean"] < full.metrics["n_train_mean"]
    assert half.model is None and half.model_uri is None  # refit=false: evaluation only


def test_subsample_is_stratified_seeded_and_keeps_every_label(tiny_corpus):
    from stance.data import load_corpus, subsample

    data = load_corpus(tiny_corpus)["train"]
    small = subsample(data, 0.1, seed=4)
    assert sorted(set(small["label"])) == [0, 1, 2] and len(small) == 3  # round(0.8) -> at least one per label
    assert small["id"] == subsample(data, 0.1, seed=4)["id"]
    assert small["id"] != subsample(data, 0.5, seed=4)["id"]
    with pytest.raises(StanceError, match="train_fraction must be in"):
        subsample(data, 0.0)


def test_extra_training_corpus_is_added_to_every_fold_but_never_tested(make_cfg, tiny_tweeteval):
    plain = train(make_cfg("model=tfidf_logreg", "eval.refit=false"))
    extra = train(make_cfg("model=tfidf_logreg", "extra_train=tweeteval", f"extra_train.path={tiny_tweeteval}"))
    assert [f["n_train"] for f in extra.folds] == [f["n_train"] for f in plain.folds]  # counts own statements
    assert sorted(extra.predictions["id"]) == sorted(plain.predictions["id"])
    assert "12 statements" in extra.tags["stance.extra_train"]  # 2 targets x (3 + 1 + 2) tweets
    assert len(extra.model.models_[None][0].transformers_[2][1].categories_[0]) == 3  # three targets seen


def test_fixed_splits_report_validation_and_pooled_test_scores(make_cfg, tiny_tweeteval):
    from stance.evaluation.metrics import fold_metrics

    result = train(make_cfg("data=tweeteval", f"data.path={tiny_tweeteval}", "eval=fixed", "model=tfidf_logreg"))
    oof = result.predictions
    assert len(oof) == 4 and set(oof["target"]) == {"Legalization of Abortion", "Climate Change is a Real Concern"}
    # the official metric pools the targets' test predictions
    assert result.metrics["f_avg_mean"] == pytest.approx(fold_metrics(oof["gold"], oof["predicted"])["f_avg"])
    assert {"val_macro_f1_mean", "val_f_avg_mean", "val_accuracy_mean"} <= result.metrics.keys()
    # and each target's own test scores beside the pooled ones
    for target, key in [("Legalization of Abortion", "legalization_of_abortion"),
                        ("Climate Change is a Real Concern", "climate_change_is_a_real_concern")]:
        mine = oof[oof["target"] == target]
        assert result.metrics[f"target_{key}_f_avg"] == pytest.approx(
            fold_metrics(mine["gold"], mine["predicted"])["f_avg"], nan_ok=True)
        assert result.metrics[f"target_{key}_n"] == 2
    run = MlflowClient(make_cfg().tracking.uri).get_run(result.run_id)
    for key in ("val_f_avg_mean", "val_accuracy_mean"):
        assert run.data.metrics[key] == pytest.approx(result.metrics[key], nan_ok=True)
    assert 0 <= result.metrics["val_accuracy_mean"] <= 1


def test_absent_tweeteval_folder_is_one_clear_error(make_cfg, tmp_path):
    with pytest.raises(StanceError, match=f"^{tmp_path}/nowhere: corpus not found$"):
        train(make_cfg("data=tweeteval", f"data.path={tmp_path}/nowhere", "eval=fixed"))


def test_misclassified_statements_are_logged_for_reading(make_cfg):
    result = train(make_cfg("model=majority"))
    client = MlflowClient(make_cfg().tracking.uri)
    folder = client.download_artifacts(result.run_id, "", dst_path=str(make_cfg.store / "download"))
    errors = pd.read_csv(f"{folder}/errors.csv", keep_default_na=False)
    wrong = result.predictions[result.predictions["gold"] != result.predictions["predicted"]]
    assert sorted(errors["id"]) == sorted(wrong["id"])
    assert list(errors.columns) == ["id", "document", "holder", "gold", "predicted", "confidence", "text"]
    assert errors["confidence"].is_monotonic_decreasing  # the most confident mistakes first
    page = open(f"{folder}/errors.md", encoding="utf-8").read()
    assert f"{len(wrong)} statements misclassified" in page
    assert all(text in page for text in wrong["text"].str.replace("|", "\\|"))


@pytest.mark.parametrize("model, family", [("tfidf_logreg", "sparse"), ("calibrated_tfidf_embed_svm", None)])
def test_the_family_tag_is_a_name_even_when_the_class_computes_it(model, family):
    from stance.experiment.config import compose
    from stance.experiment.estimators import estimator_factory

    cfg = compose([f"model={model}", "debug=true", "backbone=minilm", "external=none"])
    factory = estimator_factory(cfg)
    assert isinstance(factory.family, str) and factory.family == factory().family
    assert family is None or factory.family == family
