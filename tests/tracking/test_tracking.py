"""The tracking contract: what a finished run holds, and that its model loads and predicts."""

import json

import mlflow
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from stance.experiment.engine import train
from stance.labels import LABELS
from stance.tracking.provenance import flatten
from stance.tracking.store import resolve_uri

ARTIFACTS = {"config.yaml", "oof_predictions.csv", "fold_metrics.csv", "classification_report.txt",
             "confusion_matrix.png"}


@pytest.fixture
def finished(make_cfg):
    cfg = make_cfg("model=tfidf_logreg")
    result = train(cfg)
    return cfg, result, MlflowClient(cfg.tracking.uri).get_run(result.run_id)


def test_run_has_params_metrics_tags_and_status(finished):
    cfg, result, run = finished
    assert run.info.status == "FINISHED"
    params = run.data.params
    assert params["model.name"] == "tfidf_logreg"
    assert params["model.estimator._target_"] == "stance.models.TfidfClassifier"
    assert params["seed"] == str(cfg.seed) and params["eval.splitter.n_splits"] == "None"
    metrics = run.data.metrics
    for key in ("macro_f1_mean", "macro_f1_std", "macro_f1_ci_low", "macro_f1_ci_high", "f_avg_mean",
                "accuracy_mean", "fit_seconds_mean", "predict_per_second_mean", "f1_support"):
        assert key in metrics, key
    history = MlflowClient(cfg.tracking.uri).get_metric_history(run.info.run_id, "macro_f1")
    assert [m.step for m in history] == list(range(len(result.folds)))
    assert [m.value for m in history] == pytest.approx([f["macro_f1"] for f in result.folds])
    tags = run.data.tags
    assert tags["stance.family"] == "sparse" and tags["stance.model"] == "tfidf_logreg"
    assert len(tags["dataset_fingerprint"]) == 16 and tags["git_commit"] and tags["stance.version"]


def test_run_has_artifacts(finished):
    cfg, result, run = finished
    client = MlflowClient(cfg.tracking.uri)
    names = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert ARTIFACTS <= names
    oof = pd.read_csv(mlflow.artifacts.download_artifacts(run_id=run.info.run_id, artifact_path="oof_predictions.csv",
                                                          tracking_uri=cfg.tracking.uri))
    assert list(oof["id"]) == list(result.predictions["id"])
    assert {"id", "group", "gold", "predicted", *(f"p_{lab}" for lab in LABELS)} <= set(oof.columns)
    folds = pd.read_csv(mlflow.artifacts.download_artifacts(run_id=run.info.run_id, artifact_path="fold_metrics.csv",
                                                            tracking_uri=cfg.tracking.uri))
    assert len(folds) == len(result.folds)
    for _, fold in folds.iterrows():  # each fold's confusion matrix is kept, and adds up to its size
        assert sum(map(sum, json.loads(fold["confusion"]))) == fold["n"]


def test_logged_model_loads_and_predicts(finished):
    cfg, result, run = finished
    mlflow.set_tracking_uri(cfg.tracking.uri)
    model = mlflow.pyfunc.load_model(result.model_uri)
    out = model.predict(pd.DataFrame({"text": ["Moscow called the deployment unacceptable.", "Talks went on."],
                                      "target": ["foreign troops in Ukraine", None]}))
    assert list(out.columns) == ["label", *LABELS]
    assert set(out["label"]) <= set(LABELS)
    assert out[list(LABELS)].sum(axis=1).round(6).eq(1).all()
    bare = model.predict(pd.DataFrame({"text": ["Talks went on."]}))  # target column is optional
    assert bare["label"].iloc[0] in LABELS
    signature = model.metadata.signature
    assert [c.name for c in signature.inputs.inputs] == ["text", "target"]


def test_failed_run_is_recorded_as_failed(make_cfg, monkeypatch):
    import stance.experiment.engine

    cfg = make_cfg("model=majority")

    def explode(*args, **kwargs):
        raise RuntimeError("boom in fold")

    monkeypatch.setattr(stance.experiment.engine, "_fold_predictions", explode)
    with pytest.raises(RuntimeError, match="boom"):
        train(cfg)
    client = MlflowClient(cfg.tracking.uri)
    [run] = client.search_runs([client.get_experiment_by_name(cfg.experiment_name).experiment_id])
    assert run.info.status == "FAILED" and "boom in fold" in run.data.tags["stance.error"]


def test_flatten_caps_long_values_and_dots_keys():
    flat = flatten({"a": {"b": 1, "c": {"d": "x" * 1000}}, "e": []})
    assert flat["a.b"] == "1" and flat["e"] == "[]"
    assert len(flat["a.c.d"]) == 500 and flat["a.c.d"].endswith("...")


def test_relative_sqlite_uri_is_made_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert resolve_uri("sqlite:///mlflow.db") == f"sqlite:///{tmp_path}/mlflow.db"
    assert resolve_uri("sqlite:////abs/x.db") == "sqlite:////abs/x.db"
    assert resolve_uri("http://127.0.0.1:5000") == "http://127.0.0.1:5000"
