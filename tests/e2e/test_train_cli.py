"""``stance train`` as users run it: the real console script, Hydra composition and MLflow."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

STANCE = shutil.which("stance", path=str(Path(sys.executable).parent))


@pytest.fixture
def stance_train(tmp_path, tiny_corpus, root):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    uri = f"sqlite:///{tmp_path}/mlflow.db"

    def run(*args: str):
        command = [STANCE, "train", f"data.path={tiny_corpus}", f"tracking.uri={uri}",
                   f"tracking.artifact_root={tmp_path}/artifacts", "eval.n_bootstrap=100",
                   f"hydra.run.dir={tmp_path}/run", f"hydra.sweep.dir={tmp_path}/sweep", *args]
        return subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=600)

    run.client = MlflowClient(uri, registry_uri=uri)
    return run


def experiment_runs(client, name):
    experiment = client.get_experiment_by_name(name)
    return client.search_runs([experiment.experiment_id]) if experiment else []


def test_single_run(stance_train):
    proc = stance_train("model=majority")
    assert proc.returncode == 0, proc.stderr
    assert "majority: fold 1/3" in proc.stdout + proc.stderr
    [run] = experiment_runs(stance_train.client, "foreign-troops")
    assert run.info.status == "FINISHED" and run.data.tags["stance.model"] == "majority"


def test_sweep_groups_runs_under_a_parent_and_prints_a_leaderboard(stance_train):
    proc = stance_train("-m", "model=majority,tfidf_logreg", "registry.register_best=true", "registry.name=zoo")
    assert proc.returncode == 0, proc.stderr
    runs = experiment_runs(stance_train.client, "foreign-troops")
    [parent] = [r for r in runs if r.data.tags.get("stance.role") == "sweep"]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert sorted(r.data.tags["stance.model"] for r in children) == ["majority", "tfidf_logreg"]
    assert parent.info.status == "FINISHED" and all(r.info.status == "FINISHED" for r in children)
    assert "macro_f1 (95% CI)" in proc.stdout and "p rand." in proc.stdout  # tested against the best
    assert "mlflow ui --backend-store-uri sqlite:///" in proc.stdout
    best = max(children, key=lambda r: r.data.metrics["macro_f1_mean"]).data.tags["stance.model"]
    lines = [line for line in proc.stdout.splitlines() if line.startswith("│")]  # table rows
    assert best in lines[0]  # the leaderboard is sorted best first
    # the best run's model is registered as the champion
    champion = stance_train.client.get_model_version_by_alias("zoo", "champion")
    assert champion.run_id == max(children, key=lambda r: r.data.metrics["macro_f1_mean"]).info.run_id
    assert "Registered the best run by macro_f1_mean as models:/zoo@champion" in proc.stdout


def test_only_if_better_keeps_a_champion_that_the_sweep_does_not_beat(stance_train, tiny_tweeteval):
    client = stance_train.client
    # the champion: the better of two models
    assert stance_train("-m", "model=majority,tfidf_logreg", "registry.register_best=true").returncode == 0
    champion = client.get_model_version_by_alias("stance-foreign-troops", "champion")
    score = client.get_run(champion.run_id).data.metrics["macro_f1_mean"]
    # a sweep of the worst model on the same statements keeps it
    proc = stance_train("-m", "model=majority", "registry.register_best=true", "registry.only_if_better=true")
    assert proc.returncode == 0, proc.stderr
    mine = [r for r in experiment_runs(client, "foreign-troops") if r.data.tags.get("stance.model") == "majority"]
    assert f"does not beat the champion's {score:.3f}" in proc.stdout
    assert client.get_model_version_by_alias("stance-foreign-troops", "champion").version == champion.version
    assert len(mine) == 2 and all(r.data.metrics["macro_f1_mean"] < score for r in mine)
    # runs on other statements cannot take it, however they score
    proc = stance_train("-m", "model=tfidf_logreg", "data=tweeteval", f"data.path={tiny_tweeteval}", "eval=fixed",
                        "registry.register_best=true", "registry.only_if_better=true")
    assert proc.returncode == 0, proc.stderr
    assert "differs in dataset_fingerprint, stance.eval, so run" in proc.stdout
    assert client.get_model_version_by_alias("stance-foreign-troops", "champion").version == champion.version
    # a better run on the same statements takes it (a new alias: no champion yet)
    proc = stance_train("-m", "model=tfidf_logreg", "registry.register_best=true", "registry.only_if_better=true",
                        "registry.alias=challenger")
    assert "no model holds models:/stance-foreign-troops@challenger yet" in proc.stdout
    assert "Registered the best run by macro_f1_mean as models:/stance-foreign-troops@challenger" in proc.stdout


@pytest.mark.parametrize("override, message", [
    ("model=nonexistent", "Could not find 'model/nonexistent'"),
    ("seed=abc", "Value 'abc' of type 'str' could not be converted to Integer"),
    ("model.nmae=x", "Key 'nmae' not in 'ModelSchema'"),
])
def test_bad_overrides_fail_at_composition_with_hydras_message(stance_train, override, message):
    proc = stance_train(override)
    assert proc.returncode == 1
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
    assert experiment_runs(stance_train.client, "foreign-troops") == []


def test_user_error_is_one_line_and_exit_2(stance_train, tmp_path):
    proc = stance_train("data=table", f"data.path={tmp_path}/absent.csv", "data.target=x")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == f"error: {tmp_path}/absent.csv: corpus not found"
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("sweep", [[], ["-m"]])
def test_a_deleted_experiment_is_one_line_before_anything_runs(stance_train, sweep):
    client = stance_train.client
    client.delete_experiment(client.create_experiment("foreign-troops"))
    proc = stance_train(*sweep, "model=majority,tfidf_logreg" if sweep else "model=majority")
    assert proc.returncode == 2, proc.stdout
    assert proc.stderr.strip().splitlines()[-1].startswith("error: experiment 'foreign-troops' is deleted in sqlite:")
    assert "mlflow experiments restore --experiment-id" in proc.stderr and "Traceback" not in proc.stderr
    assert client.search_runs([client.get_experiment_by_name("foreign-troops").experiment_id],
                              run_view_type=3) == []  # ViewType.ALL: no run was started


def test_python_module_entry_point(stance_train, tiny_corpus, tmp_path, root):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    proc = subprocess.run([sys.executable, "-m", "stance.cli.hydra_entry", "model=majority", f"data.path={tiny_corpus}",
                           f"tracking.uri=sqlite:///{tmp_path}/m.db", f"tracking.artifact_root={tmp_path}/a",
                           f"hydra.run.dir={tmp_path}/r"],
                          cwd=root, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr


def test_a_bad_estimator_value_in_any_job_stops_the_sweep_before_it_starts(stance_train, tmp_path):
    proc = stance_train("-m", "model=tfidf_logreg,tfidf_svm", "model.estimator.C=1,abc")
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == (
        "error: job #1 (model=tfidf_logreg model.estimator.C=abc): model.estimator.C: expected a number, "
        "got 'abc' (stance.models.TfidfClassifier)")
    assert "Traceback" not in proc.stderr
    assert experiment_runs(stance_train.client, "foreign-troops") == []  # no job started, no sweep run
    proc = stance_train("model.estimator.C=abc")
    assert proc.returncode == 2 and proc.stderr.strip().splitlines() == [
        "error: model.estimator.C: expected a number, got 'abc' (stance.models.TfidfClassifier)"]
