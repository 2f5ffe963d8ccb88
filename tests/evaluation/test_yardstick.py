"""The external yardstick: the model trained on all the statements, scored on other pages' text."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from conftest import TINY_EXTERNAL, write_tiny_external
from stance.experiment.compare import compare_experiment
from stance.experiment.engine import train
from stance.experiment.leaderboard import markdown, table_rows
from stance.evaluation.metrics import fold_metrics
from stance.evaluation.objective import Objective
from stance.tracking.tracker import Tracker
from stance.evaluation.yardstick import grouped_bootstrap_ci


def external(path) -> list[str]:
    return ["external=foreign_troops_dev", f"external.path={path}"]


# ------------------------------------------------------------------ pure functions
def test_grouped_bootstrap_ci_holds_the_score_and_resamples_whole_groups():
    rng = np.random.default_rng(0)
    gold = rng.choice(["support", "oppose", "neutral"], size=300)
    predicted = np.where(rng.random(300) < 0.7, gold, rng.choice(["support", "oppose", "neutral"], size=300))
    score = fold_metrics(gold, predicted)["macro_f1"]
    by_statement = grouped_bootstrap_ci(gold, predicted, [str(k) for k in range(300)], seed=1)
    assert by_statement[0] < score < by_statement[1]
    # ten pages of 30 statements, each page all right or all wrong: far fewer independent units
    pages = [str(k // 30) for k in range(300)]
    right = np.repeat(rng.random(10) < 0.7, 30)
    clustered = np.where(right, gold, np.roll(gold, 1))
    low, high = grouped_bootstrap_ci(gold, clustered, pages, seed=1)
    flat_low, flat_high = grouped_bootstrap_ci(gold, clustered, [str(k) for k in range(300)], seed=1)
    assert high - low > 2 * (flat_high - flat_low)
    assert grouped_bootstrap_ci(gold, gold, pages, seed=1) == (1.0, 1.0)
    assert grouped_bootstrap_ci(gold, predicted, pages, seed=1) == grouped_bootstrap_ci(gold, predicted, pages, seed=1)


def test_objective_on_a_yardstick_names_its_keys_and_falls_back_to_the_fold_mean():
    objective = Objective("macro_f1", "maximize", "dev")
    assert (objective.key, objective.ci, objective.predictions) == (
        "dev_macro_f1", ("dev_macro_f1_ci_low", "dev_macro_f1_ci_high"), "dev_predictions.csv")
    assert objective.for_runs([{"dev_macro_f1": 0.5}, {}]) is objective
    fallback = objective.for_runs([{"macro_f1_mean": 0.5}])
    assert (fallback.key, fallback.predictions) == ("macro_f1_mean", "oof_predictions.csv")


# ------------------------------------------------------------------ the engine
def test_the_final_model_is_scored_on_the_yardstick_and_its_texts_are_not_logged(make_cfg, tiny_external):
    result = train(make_cfg("model=tfidf_logreg", *external(tiny_external)))
    m = result.metrics
    frame = Tracker.from_config(make_cfg()).load_frame(result.run_id, "dev_predictions.csv")
    assert "text" not in frame.columns and sorted(frame["id"]) == sorted(f"ext:{k}" for k in range(8))
    expected = fold_metrics(frame["gold"], frame["predicted"])
    assert m["dev_macro_f1"] == pytest.approx(expected["macro_f1"])
    assert m["dev_recall_neutral"] == pytest.approx(expected["recall_neutral"])
    assert m["dev_macro_f1_ci_low"] <= m["dev_macro_f1"] <= m["dev_macro_f1_ci_high"]
    assert (m["dev_n"], m["dev_pages"]) == (8, 4)
    assert list(frame["gold"]) == [label for _, _, label in TINY_EXTERNAL]
    # the same predictions as the model returned by train: it is the model that was scored
    predicted = result.model.predict(__import__("pandas").DataFrame(
        {"text": [t for _, t, _ in TINY_EXTERNAL], "target": ["foreign troops in Ukraine"] * 8}))
    assert list(predicted) == list(frame["predicted"])
    assert "macro_f1_mean" in m  # and cross-validated as before


def test_a_missing_or_foreign_yardstick_is_one_line_and_the_run_goes_on(make_cfg, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="stance")
    result = train(make_cfg("model=majority", *external(tmp_path / "absent.jsonl")))
    assert "dev_macro_f1" not in result.metrics and "macro_f1_mean" in result.metrics
    assert any("external yardstick 'dev' skipped" in r.getMessage() and "absent.jsonl" in r.getMessage()
               for r in caplog.records)
    other = write_tiny_external(tmp_path / "other.jsonl", target="nuclear power")
    result = train(make_cfg("model=majority", *external(other)))
    assert "dev_macro_f1" not in result.metrics
    assert any("is not the corpus's" in r.getMessage() for r in caplog.records)


def test_external_only_models_skip_the_folds_only_when_the_yardstick_is_there(make_cfg, tiny_external, tmp_path):
    only = "eval.external_only=[tfidf_logreg]"
    result = train(make_cfg("model=tfidf_logreg", only, *external(tiny_external)))
    assert result.folds == [] and "macro_f1_mean" not in result.metrics and "dev_macro_f1" in result.metrics
    logged = MlflowClient(make_cfg().tracking.uri).get_run(result.run_id).data.metrics
    assert logged["refit_seconds"] > 0 and logged["dev_predict_seconds"] > 0
    result = train(make_cfg("model=tfidf_logreg", only, *external(tmp_path / "absent.jsonl")))
    assert len(result.folds) == 3 and "macro_f1_mean" in result.metrics


# ------------------------------------------------------------------ compare and leaderboards
@pytest.fixture
def scored_sweep(make_cfg, tiny_external):
    cfg = make_cfg(*external(tiny_external))
    tracker = Tracker.from_config(cfg)
    parent = tracker.start_parent("sweep: yardstick", tags={})
    results = {}
    for model, extra in (("majority", []), ("tfidf_logreg", []), ("tfidf_svm", ["eval.external_only=[tfidf_svm]"])):
        overrides = [f"model={model}", *extra]
        results[model] = train(make_cfg(*overrides, *external(tiny_external)), parent_run_id=parent,
                               overrides=overrides)
    tracker.end_parent(parent, "FINISHED")
    return cfg, results


def test_compare_ranks_by_the_yardstick_and_shows_the_fold_mean_beside_it(scored_sweep):
    cfg, results = scored_sweep
    comparison = compare_experiment(cfg)
    assert comparison.objective.key == "dev_macro_f1" and comparison.yardsticks == ["dev"]
    ranked = sorted(results.values(), key=lambda r: (-r.metrics["dev_macro_f1"], r.name))
    assert [e.run_id for e in comparison.entries] == [r.run_id for r in ranked]
    for entry in comparison.entries[1:]:  # paired on the yardstick's statements
        run = next(r for r in results.values() if r.run_id == entry.run_id)
        assert entry.tests["difference"] == pytest.approx(ranked[0].metrics["dev_macro_f1"] - run.metrics["dev_macro_f1"])
    header, rows = table_rows(comparison)
    assert header[1:4] == ["dev macro_f1 (95% CI)", "folds macro_f1 (95% CI)", "dev recall s/o/n"]
    svm = next(row for row in rows if row[0].startswith("tfidf_svm"))
    assert svm[2] == "- [-, -]"  # scored on the yardstick only
    logreg = next(row for row in rows if row[0] == "tfidf_logreg")
    assert logreg[2].startswith(f"{results['tfidf_logreg'].metrics['macro_f1_mean']:.3f}")
    page = markdown(comparison)
    assert "ranked by dev macro_f1" in page and "8 statements from 4 pages" in page
    assert not any(text in page for _, text, _ in TINY_EXTERNAL)  # figures and ids, never the sentences


def test_runs_without_the_yardstick_are_ranked_by_the_fold_mean_with_a_notice(make_cfg):
    cfg = make_cfg()
    tracker = Tracker.from_config(cfg)
    parent = tracker.start_parent("sweep: folds", tags={})
    for model in ("majority", "tfidf_logreg"):
        train(make_cfg(f"model={model}"), parent_run_id=parent, overrides=[f"model={model}"])
    tracker.end_parent(parent, "FINISHED")
    comparison = compare_experiment(cfg)
    assert comparison.objective.key == "macro_f1_mean" and comparison.best.model == "tfidf_logreg"
    assert "no run has a score on the external yardstick 'dev'" in comparison.notice
