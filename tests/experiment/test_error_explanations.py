"""A run's error analysis names, for each misclassified statement, the words that moved the fold's
own model towards its wrong label (report.explain_errors per fold; 0: off)."""

import pandas as pd
from mlflow.tracking import MlflowClient

from stance.evaluation.attribution import explain_errors
from stance.evaluation.error_analysis import errors_markdown, misclassified
from stance.experiment.engine import train


def _errors(make_cfg, result, name):
    client = MlflowClient(make_cfg().tracking.uri)
    folder = client.download_artifacts(result.run_id, "", dst_path=str(make_cfg.store / name))
    return pd.read_csv(f"{folder}/errors.csv", keep_default_na=False), open(f"{folder}/errors.md").read()


def test_errors_md_shows_the_words_that_moved_each_wrong_prediction(make_cfg):
    result = train(make_cfg("model=tfidf_logreg", "eval=stratified_kfold", "eval.splitter.n_splits=3"))
    errors, page = _errors(make_cfg, result, "all")
    assert len(errors) > 0 and "words towards the prediction" in page
    for row in errors.to_dict(orient="records"):
        words = [part.rsplit(" ", 1) for part in row["explanation"].split(", ")]
        assert words and all(token in row["text"] and float(weight) != 0 for token, weight in words)
        assert _cell(row["explanation"]) in page


def test_the_cap_is_per_fold_and_zero_turns_it_off(make_cfg):
    assert make_cfg().report.explain_errors == 20  # the default, from conf/config.yaml
    capped = train(make_cfg("model=tfidf_logreg", "eval=stratified_kfold", "eval.splitter.n_splits=3",
                            "report.explain_errors=1"))
    errors, _ = _errors(make_cfg, capped, "capped")
    oof = capped.predictions
    wrong = oof[oof["gold"] != oof["predicted"]]
    explained = errors[errors["explanation"] != ""]
    assert len(explained) == wrong["fold"].nunique() < len(wrong)
    for fold, rows in wrong.groupby("fold"):  # each fold's most confident mistake
        first = rows.sort_values(["confidence", "id"], ascending=[False, True]).iloc[0]
        assert first["id"] in set(explained["id"])
    # report.explain_errors=0 explains nothing (explain_errors returns {}): the page is as before
    off = misclassified(oof, explain_errors(capped.model, {**oof.to_dict(orient="list")}, 0))
    assert "explanation" not in off.columns and "words towards" not in errors_markdown(off)


def _cell(text):
    return " ".join(str(text).split()).replace("|", "\\|")
