"""``stance compare`` and ``stance experiments`` on runs in a real sqlite MLflow store."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from click.testing import CliRunner
from mlflow.tracking import MlflowClient

from conftest import ROOT
from stance.cli.commands import main
from stance.experiment.compare import NoRuns, compare_experiment
from stance.experiment.leaderboard import markdown
from stance.experiment.engine import train
from stance.errors import StanceError
from stance.evaluation.significance import mcnemar
from stance.tracking.tracker import Tracker


@pytest.fixture
def sweep(make_cfg):
    """Three runs under one sweep parent, as ``stance train -m model=...`` leaves them."""
    cfg = make_cfg()
    tracker = Tracker.from_config(cfg)
    parent = tracker.start_parent("sweep: test", tags={})
    results = {}
    for model in ("majority", "tfidf_logreg", "tfidf_svm"):
        overrides = [f"model={model}", "eval.n_bootstrap=200"]
        results[model] = train(make_cfg(*overrides, "eval.refit=false"), parent_run_id=parent, overrides=overrides)
    tracker.end_parent(parent, "FINISHED")
    return cfg, parent, results


def store_overrides(make_cfg) -> list[str]:
    cfg = make_cfg()
    return ["-o", f"tracking.uri={cfg.tracking.uri}", "-o", f"tracking.artifact_root={cfg.tracking.artifact_root}",
            "-o", f"data.path={cfg.data.path}", "-o", "eval.n_bootstrap=200", "-o", "report.n_resamples=500"]


def test_leaderboard_from_the_store_ranks_and_tests_against_the_best(sweep):
    cfg, parent, results = sweep
    comparison = compare_experiment(cfg)
    assert comparison.sweep == parent
    ranked = sorted(results.values(), key=lambda r: -r.metrics["macro_f1_mean"])
    assert [e.run_id for e in comparison.entries] == [r.run_id for r in ranked]
    assert [e.label for e in comparison.entries] == [r.name for r in ranked]  # shared overrides left out
    best = ranked[0]
    assert comparison.best.tests == {}
    for entry, result in zip(comparison.entries, ranked):  # fit time: the mean over folds, not the last fold
        assert entry.metrics["fit_seconds_mean"] == pytest.approx(np.mean([f["fit_seconds"] for f in result.folds]))
    for entry, result in zip(comparison.entries[1:], ranked[1:]):
        t = entry.tests
        assert t["difference"] == pytest.approx(best.metrics["macro_f1_mean"] - result.metrics["macro_f1_mean"])
        assert t["ci_low"] <= t["difference"] <= t["ci_high"]
        assert 0 < t["p_randomisation"] <= t["p_holm"] <= 1
        # McNemar's counts come from the stored out-of-fold predictions
        merged = best.predictions.merge(result.predictions, on="id", suffixes=("_a", "_b"))
        expected = mcnemar(merged["gold_a"], merged["predicted_a"], merged["predicted_b"])
        assert (t["mcnemar_best_only"], t["mcnemar_other_only"], t["p_mcnemar"]) == \
               (expected.a_only, expected.b_only, expected.p_value)
    table = markdown(comparison)
    assert table.count("\n| ") == 1 + 3 and "best" in table.splitlines()[2]


def test_majority_against_itself_is_not_significant(make_cfg):
    cfg = make_cfg()
    for seed in (1, 2):
        train(make_cfg("model=majority", f"seed={seed}", "eval.refit=false"), overrides=[f"seed={seed}"])
    comparison = compare_experiment(cfg, all_runs=True)
    [other] = comparison.entries[1:]
    assert other.tests["difference"] == 0 and other.tests["p_randomisation"] == 1.0
    assert other.tests["p_mcnemar"] == 1.0


def test_runs_on_different_statements_are_not_paired(make_cfg, tmp_path):
    cfg = make_cfg()
    train(make_cfg("model=majority", "eval.refit=false"), overrides=["model=majority"])
    fewer = tmp_path / "fewer.jsonl"
    with open(cfg.data.path, encoding="utf-8") as corpus:
        fewer.write_text("".join(corpus.readlines()[:18]), encoding="utf-8")
    train(make_cfg("model=tfidf_logreg", f"data.path={fewer}", "eval.refit=false"), overrides=["model=tfidf_logreg"])
    comparison = compare_experiment(cfg, all_runs=True)
    assert comparison.entries[1].tests == {"note": "different statements or folds: not paired"}


def test_select_by_validation_keeps_each_models_best_run(make_cfg, tiny_tweeteval):
    base = ["data=tweeteval", f"data.path={tiny_tweeteval}", "eval=fixed", "report.select_by=val_accuracy_mean",
            "objective.metric=accuracy", "report.all_runs=true"]
    runs = {}
    for C in ("0.01", "100"):
        result = train(make_cfg(*base, "model=tfidf_logreg", f"model.estimator.C={C}"), overrides=[f"C={C}"])
        runs[result.run_id] = result.metrics["val_accuracy_mean"]
    train(make_cfg(*base, "model=majority"))
    comparison = compare_experiment(make_cfg(*base))
    assert sorted(e.model for e in comparison.entries) == ["majority", "tfidf_logreg"]
    assert len(comparison.candidates) == 3
    [logreg] = [e for e in comparison.entries if e.model == "tfidf_logreg"]
    assert runs[logreg.run_id] == max(runs.values())


def test_compare_command_writes_logs_and_prints(sweep, make_cfg, tmp_path):
    cfg, parent, results = sweep
    out = tmp_path / "out"
    proc = CliRunner().invoke(main, ["compare", "--out", str(out), *store_overrides(make_cfg)])
    assert proc.exit_code == 0, proc.output
    assert "Δ to best" in proc.output and "p McNemar" in proc.output
    assert sorted(p.name for p in out.iterdir()) == ["leaderboard.md", "scores.png"]
    assert (out / "leaderboard.md").read_text().startswith("# foreign-troops: leaderboard")
    client = MlflowClient(cfg.tracking.uri)
    run_id = proc.output.split("logged to comparison run ")[1].split()[0]
    run = client.get_run(run_id)
    assert run.data.tags["stance.role"] == "comparison" and run.info.status == "FINISHED"
    assert run.data.params["sweep"] == parent
    assert sorted(a.path for a in client.list_artifacts(run_id)) == ["leaderboard.md", "scores.png"]
    # the comparison run is not a candidate for the champion
    from stance.tracking.registry import best_run

    assert best_run(cfg.tracking.uri, cfg.experiment_name).info.run_id != run_id


def test_learning_curve_runs_get_a_curve(make_cfg, tmp_path):
    for fraction in ("0.5", "1.0"):
        overrides = ["model=tfidf_logreg", f"eval.train_fraction={fraction}"]
        train(make_cfg(*overrides, "eval.refit=false"), overrides=overrides)
    out = tmp_path / "curve"
    proc = CliRunner().invoke(main, ["compare", "--all-runs", "--no-log", "--out", str(out),
                                     *store_overrides(make_cfg)])
    assert proc.exit_code == 0, proc.output
    assert (out / "learning_curve.png").stat().st_size > 10_000
    assert "train n" in (out / "leaderboard.md").read_text()


def test_compare_errors_are_one_line(make_cfg):
    runner = CliRunner()
    proc = runner.invoke(main, ["compare", "no_such_experiment"])
    assert proc.exit_code == 2
    assert proc.output.startswith("error: cannot compose +experiment=no_such_experiment")
    assert len(proc.output.strip().splitlines()) == 1
    proc = runner.invoke(main, ["compare", *store_overrides(make_cfg)])
    assert proc.exit_code == 2 and "no runs in experiment 'foreign-troops'" in proc.output
    with pytest.raises(NoRuns):
        compare_experiment(make_cfg())
    with pytest.raises(StanceError, match="no finished run with metric"):
        from stance.experiment.compare import compare
        compare([], {}, experiment="empty")


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A copy of conf/ and experiments/ whose experiments/README.md the test may regenerate."""
    for name in ("conf", "experiments"):
        shutil.copytree(ROOT / name, tmp_path / "project" / name)
    monkeypatch.setenv("STANCE_CONFIG_DIR", str(tmp_path / "project" / "conf"))
    return tmp_path / "project"


def test_experiments_readme_is_generated_from_the_store(project, make_cfg):
    for model in ("majority", "tfidf_logreg"):
        cfg = make_cfg("+experiment=grouped_vs_stratified", f"model={model}", "eval.refit=false")
        train(cfg, overrides=[f"model={model}"])
    proc = CliRunner().invoke(main, ["experiments", *store_overrides(make_cfg)])
    assert proc.exit_code == 0, proc.output
    readme = (project / "experiments" / "README.md").read_text()
    section = readme.split("## grouped_vs_stratified")[1].split("\n## ")[0]
    assert "stance train -m +experiment=grouped_vs_stratified" in section
    assert "| majority |" in section and "| tfidf_logreg |" in section
    assert (project / "experiments" / "grouped_vs_stratified" / "scores.png").is_file()
    assert "grouped_vs_stratified: 2 runs" in proc.output
    # the other experiments have no runs in this store: their committed results are kept
    assert "model_zoo: no runs in this store" in proc.output
    for path in sorted((project / "experiments").glob("*.yaml")):
        assert f"## {path.stem}" in readme


def test_committed_experiments_readme_lists_every_experiment_with_its_question():
    from stance.experiment.catalogue import experiments

    readme = (ROOT / "experiments" / "README.md").read_text()
    for experiment in experiments(ROOT / "experiments"):
        assert experiment.question and experiment.question in readme
        assert experiment.command in readme


def test_question_comment_is_read_over_several_lines():
    from stance.experiment.catalogue import question_of

    text = "# @package _global_\n# Question: does A\n# beat B?\n#   stance train -m +experiment=x\nseed: 1\n"
    assert question_of(text) == "Does A beat B?"


def test_published_scores_sit_beside_ours_in_score_order():
    from stance.experiment.compare import Comparison, Entry

    metrics = {"f_avg_mean": 0.70, "f_avg_ci_low": 0.68, "f_avg_ci_high": 0.72}
    ours = Entry("r1", "tfidf_embed_svm", "tfidf_embed_svm", [], metrics)
    table = markdown(Comparison("tweeteval", "f_avg", [ours], [], published={"SVM": 67.3, "BERTweet": 71.2}))
    beside = table.split("Beside published results")[1]
    rows = [line.split(" | ")[0].strip("| ") for line in beside.splitlines() if line.startswith("| ")][2:]
    assert rows == ["BERTweet", "tfidf_embed_svm", "SVM"]
    assert "| tfidf_embed_svm | 70.0 | [68.0, 72.0] | stance (this table) |" in beside


def test_each_targets_score_gets_its_own_table():
    from stance.experiment.compare import Comparison, Entry

    metrics = {"f_avg_mean": 0.70, "f_avg_ci_low": 0.68, "f_avg_ci_high": 0.72, "target_atheism_f_avg": 0.61,
               "target_atheism_n": 220.0, "target_hillary_clinton_f_avg": 0.75, "target_hillary_clinton_n": 295.0,
               "target_atheism_macro_f1": 0.5}
    ours = Entry("r1", "tfidf_embed_svm", "tfidf_embed_svm", [], metrics)
    table = markdown(Comparison("tweeteval", "f_avg", [ours], []))
    section = table.split("f_avg on each target's statements")[1]
    assert "| model | atheism (n=220) | hillary_clinton (n=295) | f_avg (all) |" in section
    assert "| tfidf_embed_svm | 0.610 | 0.750 | 0.700 |" in section
    # single-target corpora have no such table
    plain = Entry("r2", "tfidf_svm", "tfidf_svm", [], {k: metrics[k] for k in ("f_avg_mean", "f_avg_ci_low",
                                                                               "f_avg_ci_high")})
    assert "each target's statements" not in markdown(Comparison("foreign-troops", "f_avg", [plain], []))


def _oof(gold: list[str], predicted: list[str]):
    import pandas as pd

    return pd.DataFrame({"id": [str(k) for k in range(len(gold))], "fold": [k % 2 for k in range(len(gold))],
                         "gold": gold, "predicted": predicted})


def test_each_run_is_tested_against_its_reference_setting_and_entries_stay_untouched():
    from stance.experiment.compare import Entry, compare

    gold = ["support", "oppose", "neutral"] * 10
    worse = ["neutral"] * 30
    runs = {
        "a0": ("m1", ["model=m1", "extra_train.sample=0"], 0.2, worse),
        "a1": ("m1", ["model=m1", "extra_train.sample=100"], 1.0, gold),
        "b0": ("m2", ["model=m2", "extra_train.sample=0"], 0.2, worse),
        "b1": ("m2", ["model=m2", "extra_train.sample=100"], 0.2, worse),
    }
    entries = [Entry(rid, f"{m} {o[1]}", m, o, {"macro_f1_mean": s}) for rid, (m, o, s, _) in runs.items()]
    predictions = {rid: _oof(gold, p) for rid, (_, _, _, p) in runs.items()}
    result = compare(entries, predictions, n_resamples=999, n_bootstrap=200, reference="extra_train.sample=0")
    assert all(e.tests == {} for e in entries)  # pure: the input entries are not written to
    by_id = {e.run_id: e for e in result.entries}
    assert "reference" not in by_id["a0"].tests and "reference" not in by_id["b0"].tests
    gain = by_id["a1"].tests["reference"]
    assert gain["difference"] == pytest.approx(0.8) and gain["ci_low"] > 0
    assert gain["p_randomisation"] == pytest.approx(1 / 1000) and gain["p_holm"] >= gain["p_randomisation"]
    same = by_id["b1"].tests["reference"]
    assert same["difference"] == 0 and same["p_randomisation"] == 1.0
    assert "against extra_train.sample=0" not in markdown(result)
    assert "with `extra_train.sample=0`" in markdown(result)


@pytest.mark.slow
def test_a_sweep_killed_with_kill_9_is_skipped_by_compare_and_writes_nothing(sweep, make_cfg, tmp_path):
    """A real ``kill -9`` of ``stance train -m`` after its first job: compare warns, keeps to
    the last complete sweep, and never writes or logs a leaderboard from the dead one."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    cfg, parent, results = sweep
    stance = shutil.which("stance", path=str(Path(sys.executable).parent))
    command = [stance, "train", "-m", "model=majority,tfidf_logreg,embed_logreg,tfidf_embed_svm", "backbone=minilm",
               f"data.path={cfg.data.path}", f"tracking.uri={cfg.tracking.uri}",
               f"tracking.artifact_root={cfg.tracking.artifact_root}", "eval.n_bootstrap=50",
               f"hydra.sweep.dir={tmp_path}/sweep"]
    process = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    tracker = Tracker.from_config(cfg)
    deadline = time.monotonic() + 240
    dead = None
    while time.monotonic() < deadline and process.poll() is None:
        newer = [s for s in tracker.client.search_runs([tracker.client.get_experiment_by_name(
            cfg.experiment_name).experiment_id], "tags.`stance.role` = 'sweep'") if s.info.run_id != parent]
        if newer and any(c.info.status == "FINISHED" for c in tracker.child_runs(newer[0].info.run_id)):
            dead = newer[0].info.run_id
            break
        time.sleep(0.3)
    assert dead is not None, "the sweep never finished a job"
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()

    out = tmp_path / "out"
    out.mkdir()
    (out / "leaderboard.md").write_text("kept\n")
    runner = CliRunner()
    proc = runner.invoke(main, ["compare", "--out", str(out), *store_overrides(make_cfg)])
    assert proc.exit_code == 0, proc.output
    assert f"warning: the latest sweep {dead} (FAILED, 1 of" in proc.output
    assert f"comparing the latest complete sweep {parent}" in proc.output
    assert compare_experiment(cfg).sweep == parent
    assert "Δ to best" in (out / "leaderboard.md").read_text()  # from the complete sweep

    (out / "leaderboard.md").write_text("kept\n")
    figure = (out / "scores.png").read_bytes()
    proc = runner.invoke(main, ["compare", "--incomplete", "--out", str(out), *store_overrides(make_cfg)])
    assert proc.exit_code == 0, proc.output
    assert "(INCOMPLETE)" in proc.output and "not writing the leaderboard" in proc.output
    assert (out / "leaderboard.md").read_text() == "kept\n"
    assert sorted(p.name for p in out.iterdir()) == ["leaderboard.md", "scores.png"]
    assert (out / "scores.png").read_bytes() == figure
    assert "logged to comparison run" not in proc.output
    comparison = compare_experiment(cfg, incomplete=True)
    assert comparison.sweep == dead and not comparison.complete and len(comparison.entries) == 1
    assert not compare_experiment(cfg, sweep=dead).complete
    with pytest.raises(StanceError, match="is not a sweep"):
        compare_experiment(cfg, sweep=results["majority"].run_id)


def test_with_no_complete_sweep_compare_says_so(make_cfg):
    cfg = make_cfg()
    tracker = Tracker.from_config(cfg)
    parent = tracker.start_parent("sweep: running", tags={})
    train(make_cfg("model=majority", "eval.refit=false"), parent_run_id=parent, overrides=["model=majority"])
    with pytest.raises(NoRuns, match=f"no complete sweep .* the latest, {parent} \\(RUNNING, 1 of 1 runs finished\\), "
                                     "has not ended; --incomplete compares it"):
        compare_experiment(cfg)
    assert compare_experiment(cfg, incomplete=True).entries[0].model == "majority"


def test_report_against_adds_the_best_run_of_another_experiments_sweep(sweep, make_cfg):
    cfg, _, results = sweep
    champion = max(results.values(), key=lambda r: r.metrics["macro_f1_mean"])
    challenger = ["experiment_name=challenger", f"report.against={cfg.experiment_name}"]
    tracker = Tracker.from_config(make_cfg(*challenger))
    parent = tracker.start_parent("sweep: challenger", tags={})
    mine = train(make_cfg(*challenger, "model=majority", "eval.refit=false", "eval.n_bootstrap=200"),
                 parent_run_id=parent, overrides=["model=majority"])
    tracker.end_parent(parent, "FINISHED")
    comparison = compare_experiment(make_cfg(*challenger, "report.n_resamples=500"))
    assert [e.run_id for e in comparison.entries] == [champion.run_id, mine.run_id]  # majority scores lower
    assert comparison.against == comparison.best.label == f"{champion.name} ({cfg.experiment_name})"
    tests = comparison.entries[1].tests
    assert tests["difference"] == pytest.approx(champion.metrics["macro_f1_mean"] - mine.metrics["macro_f1_mean"])
    assert 0 < tests["p_randomisation"] <= 1 and tests["mcnemar_best_only"] > 0
    page = markdown(comparison)
    assert "1 finished runs of MLflow experiment `challenger`" in page
    assert f"`{comparison.against}` is not one of them" in page
    alone = compare_experiment(make_cfg("experiment_name=challenger", "report.against=nowhere"))
    assert [e.run_id for e in alone.entries] == [mine.run_id] and alone.against is None
    assert "no finished sweep in experiment 'nowhere'" in alone.notice
