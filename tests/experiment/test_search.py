"""Clusters and search: the submitit launcher (its local executor standing in for SLURM) and
the Optuna sweeper (:mod:`stance.experiment.search`), through the real ``stance train`` and Hydra's
plugins, with the study in a real database: resumed after a ``kill -9``, shared by workers."""

import math
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from mlflow.tracking import MlflowClient

from stance.experiment.config import config_dir, register_configs
from tests_helpers import clean_env

STANCE = shutil.which("stance", path=str(Path(sys.executable).parent))


def compose_with_hydra(*overrides):
    register_configs()
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides), return_hydra_config=True)


def sweep_command(corpus, workdir, *args, sweep_dir="sweep"):
    return [STANCE, "train", "-m", f"data.path={corpus}", f"tracking.uri=sqlite:///{workdir}/mlflow.db",
            f"tracking.artifact_root={workdir}/art", f"tracking.study_storage=sqlite:///{workdir}/optuna.db",
            "eval.n_bootstrap=50", "debug=true", f"hydra.sweep.dir={workdir}/{sweep_dir}", *args]


def sweep(root, corpus, workdir, *args, sweep_dir="sweep"):
    uri = f"sqlite:///{workdir}/mlflow.db"
    command = sweep_command(corpus, workdir, *args, sweep_dir=sweep_dir)
    proc = subprocess.run(command, cwd=root, env=clean_env(), capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    client = MlflowClient(uri)
    runs = client.search_runs([client.get_experiment_by_name("foreign-troops").experiment_id])
    parents = [r for r in runs if r.data.tags.get("stance.role") == "sweep"]
    assert parents[0].info.status == "FINISHED"  # the newest sweep
    return proc, [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parents[0].info.run_id]


@pytest.mark.slow
def test_submitit_local_executor_runs_the_sweep_jobs(root, tiny_corpus, tmp_path):
    proc, runs = sweep(root, tiny_corpus, tmp_path, "hydra/launcher=submitit_local", "hydra.launcher.timeout_min=10",
                       "model=majority", "seed=1,2")
    assert sorted(int(r.data.params["seed"]) for r in runs) == [1, 2]
    assert all(r.info.status == "FINISHED" and "macro_f1_mean" in r.data.metrics for r in runs)
    # the jobs really ran as submitit jobs: each left its submission and log files
    assert len(list((tmp_path / "sweep" / ".submitit").glob("*/*_submitted.pkl"))) == 2


def test_slurm_launcher_config_composes_to_submitit_on_slurm():
    launcher = compose_with_hydra("hydra/launcher=slurm", "hydra.launcher.partition=gpu").hydra.launcher
    assert launcher._target_ == "hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher"
    assert launcher.partition == "gpu" and launcher.timeout_min > 0 and launcher.mem_gb > 0


def test_parallel_launcher_config_composes_to_joblib():
    launcher = compose_with_hydra("hydra/launcher=parallel", "hydra.launcher.n_jobs=8").hydra.launcher
    assert launcher._target_ == "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher"
    assert launcher.n_jobs == 8


def search_space(*overrides):
    """The sweeper's params as Optuna distributions, parsed as the sweeper parses them."""
    from stance.experiment.search import search_space as parse

    sweeper = compose_with_hydra(*overrides).hydra.sweeper
    space, fixed = parse([f"{k}={v}" for k, v in sweeper.params.items()])
    assert fixed == []
    return sweeper, space


def is_log(distribution) -> bool:
    return distribution.log


def test_the_search_grammar_becomes_optuna_distributions():
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    from stance.experiment.search import search_space as parse

    space, fixed = parse(["a=interval(0.1, 2)", "b=int(interval(2, 12))", "c=tag(log, interval(1e-5, 1e-2))",
                          "d=range(1, 5)", "e=choice(x, y)", "f=x,y,z", "g=3", "a=interval(0.5, 1)"])
    assert space["a"] == FloatDistribution(0.5, 1.0)  # the later (command-line) value wins
    assert space["b"] == IntDistribution(2, 12)
    assert space["c"] == FloatDistribution(1e-5, 1e-2, log=True)
    assert space["d"] == IntDistribution(1, 4)  # range's stop is excluded, as in Python
    assert space["e"] == CategoricalDistribution(["x", "y"]) and space["f"] == CategoricalDistribution(["x", "y", "z"])
    assert fixed == ["g=3"]


def test_finetune_search_covers_learning_rate_and_epochs():
    sweeper, space = search_space("model=finetune", "hydra/sweeper=finetune_search")
    assert sweeper.direction == "maximize"
    rate, epochs = space["model.estimator.learning_rate"], space["model.estimator.epochs"]
    assert is_log(rate) and 0 < rate.low < 1.0e-4 < rate.high < 1e-2  # around the configured 1e-4
    assert type(epochs).__name__.startswith("Int") and epochs.low >= 1 and epochs.high > 8


@pytest.mark.slow
def test_optuna_search_of_tfidf_regularisation_runs_three_trials(root, tiny_corpus, tmp_path):
    sweeper, space = search_space("hydra/sweeper=tfidf_search")
    c_range = space["model.estimator.C"]
    assert is_log(c_range)
    proc, runs = sweep(root, tiny_corpus, tmp_path, "hydra/sweeper=tfidf_search", "hydra.sweeper.n_trials=3")
    assert len(runs) == 3 and all(r.info.status == "FINISHED" for r in runs)
    values = [float(r.data.params["model.estimator.C"]) for r in runs]
    assert len(set(values)) == 3 and all(c_range.low <= c <= c_range.high for c in values)
    assert all(math.isfinite(r.data.metrics["macro_f1_mean"]) for r in runs)
    assert "Best parameters" in proc.stdout + proc.stderr  # the study's summary
    results = (tmp_path / "sweep" / "optimization_results.yaml").read_text()
    assert "study_name: tfidf-regularisation-tfidf_logreg" in results and "n_trials: 3" in results

    # the same command with a larger budget resumes the study: only the missing trials run
    proc, runs = sweep(root, tiny_corpus, tmp_path, "hydra/sweeper=tfidf_search", "hydra.sweeper.n_trials=5",
                       sweep_dir="again")
    assert len(runs) == 2 and "resuming with 3 trial(s)" in proc.stdout + proc.stderr
    assert "n_trials: 5" in (tmp_path / "again" / "optimization_results.yaml").read_text()


def study_trials(workdir, name="tfidf-regularisation-tfidf_logreg"):
    import optuna

    study = optuna.load_study(study_name=name, storage=f"sqlite:///{workdir}/optuna.db")
    return study.get_trials(deepcopy=False)


def study_states(workdir, name="tfidf-regularisation-tfidf_logreg"):
    return [t.state.name for t in study_trials(workdir, name)]


def running_trial_with_pid(database):
    """Whether the study has a RUNNING trial that names its process, read without writing: opening the
    database through optuna would create its tables, racing the search that is creating them."""
    import sqlite3

    if not database.exists():
        return False
    try:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
            return db.execute("SELECT count(*) FROM trials JOIN trial_user_attributes USING (trial_id) "
                              "WHERE trials.state = 'RUNNING' AND trial_user_attributes.key = 'pid'"
                              ).fetchone()[0] > 0
    except sqlite3.Error:  # the tables are not there yet
        return False


@pytest.mark.slow
def test_a_search_killed_with_kill_9_resumes_and_parallel_workers_share_the_study(root, tiny_corpus, tmp_path):
    import os
    import signal
    import time

    # a search killed in its first trial: the trial stays RUNNING in the study. Kill it once the
    # trial names its process (set just after the trial is created), as a trial's job always does
    command = sweep_command(tiny_corpus, tmp_path, "hydra/sweeper=tfidf_search", "hydra.sweeper.n_trials=3",
                            "debug=false")
    log = open(tmp_path / "first.log", "w")
    process = subprocess.Popen(command, cwd=root, env=clean_env(), stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and process.poll() is None:
        if running_trial_with_pid(tmp_path / "optuna.db"):
            break
        time.sleep(0.3)
    log.close()
    assert process.poll() is None, ("the search ended before it could be killed:\n"
                                    + (tmp_path / "first.log").read_text()[-3000:])
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert study_states(tmp_path) == ["RUNNING"]

    # two workers started together on the same study run the rest between them
    workers = [subprocess.Popen(sweep_command(tiny_corpus, tmp_path, "hydra/sweeper=tfidf_search",
                                              "hydra.sweeper.n_trials=4", sweep_dir=f"worker{k}"),
                                cwd=root, env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
               for k in (1, 2)]
    outputs = [w.communicate(timeout=900)[0] for w in workers]
    assert [w.returncode for w in workers] == [0, 0], [o[-2000:] for o in outputs]
    states = study_states(tmp_path)
    assert states[0] == "FAIL"  # the killed trial, marked by the first worker to open the study
    assert "of a process that is gone as FAIL" in "".join(outputs)
    complete = states.count("COMPLETE")
    assert 4 <= complete <= 5 and states.count("RUNNING") == 0  # 4 in all (a race may add one)
    client = MlflowClient(f"sqlite:///{tmp_path}/mlflow.db")
    runs = client.search_runs([client.get_experiment_by_name("foreign-troops").experiment_id])
    trials = [r for r in runs if r.data.tags.get("stance.role") != "sweep" and r.info.status == "FINISHED"]
    assert len(trials) == complete  # every completed trial is a finished MLflow run


def test_workers_that_open_a_fresh_study_database_together_all_get_the_study(tmp_path):
    # the first process to open a database creates its tables; others started at the same moment
    # used to fail on a unique constraint of that creation instead of waiting for it
    code = ("import sys; from stance.experiment.search import open_study; "
            "s = open_study('race', sys.argv[1]); print(s.study_name)")
    for attempt in range(3):
        storage = f"sqlite:///{tmp_path}/race{attempt}.db"
        workers = [subprocess.Popen([sys.executable, "-c", code, storage], stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, text=True) for _ in range(4)]
        outputs = [w.communicate(timeout=120)[0] for w in workers]
        assert [w.returncode for w in workers] == [0] * 4, outputs
        assert all(o.strip().endswith("race") for o in outputs)
