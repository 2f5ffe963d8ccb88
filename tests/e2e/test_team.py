"""Team tracking on PostgreSQL, as the README's recipe sets it up: a real PostgreSQL 15 (the
machine's own binaries, started here), a real ``mlflow server`` with it as backend store and
served artifacts, and 8 ``stance train tracking=postgres`` processes at once: none is lost.
Optuna searches keep their study in a database of the same PostgreSQL server."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from tests_helpers import clean_env, free_port, start_mlflow_server, stop_process

STANCE = shutil.which("stance", path=str(Path(sys.executable).parent))
pytestmark = pytest.mark.slow


def pg_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb")) or ([shutil.which("initdb")]
                                                                      if shutil.which("initdb") else [])
    if not found:
        pytest.fail("PostgreSQL's initdb is not installed (the machine image has PostgreSQL 15)")
    return Path(found[-1]).parent


@pytest.fixture(scope="module")
def postgres():
    """A PostgreSQL server on 127.0.0.1 with the role and databases of the README's recipe;
    yields its ``host:port``. As root it runs as the ``postgres`` user, as PostgreSQL requires."""
    binaries = pg_bin()
    folder = Path(tempfile.mkdtemp(prefix="stance-pg-"))
    folder.chmod(0o755)
    as_user = []
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    port = free_port()

    def run(*command):
        proc = subprocess.run([*as_user, *command], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, (command, proc.stdout[-1500:], proc.stderr[-1500:])

    run(str(binaries / "initdb"), "-D", str(folder / "data"), "-U", "postgres", "-A", "trust")
    run(str(binaries / "pg_ctl"), "-D", str(folder / "data"), "-l", str(folder / "pg.log"), "-w", "start",
        "-o", f"-p {port} -c listen_addresses=127.0.0.1 -k {folder}")
    try:
        psql = [str(binaries / "psql"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-v", "ON_ERROR_STOP=1"]
        for statement in ("CREATE ROLE mlflow LOGIN", "CREATE DATABASE mlflow OWNER mlflow",
                          "CREATE DATABASE optuna OWNER mlflow"):
            run(*psql, "-c", statement)
        yield f"127.0.0.1:{port}"
    finally:
        subprocess.run([*as_user, str(binaries / "pg_ctl"), "-D", str(folder / "data"), "-m", "fast", "stop"],
                       capture_output=True, timeout=120)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def team_server(postgres, tmp_path_factory):
    home = tmp_path_factory.mktemp("team")
    url, process = start_mlflow_server(home, backend=f"postgresql+psycopg2://mlflow@{postgres}/mlflow")
    yield url
    stop_process(process)


def test_eight_parallel_training_jobs_lose_no_run(team_server, tiny_corpus, tmp_path, root):
    env = clean_env(MLFLOW_TRACKING_URI=team_server)
    jobs = [subprocess.Popen([STANCE, "train", "tracking=postgres", "model=tfidf_logreg", f"seed={seed}",
                              f"data.path={tiny_corpus}", "eval.n_bootstrap=50", f"hydra.run.dir={tmp_path}/run{seed}"],
                             cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for seed in range(8)]
    outputs = [job.communicate(timeout=900)[0] for job in jobs]
    assert [job.returncode for job in jobs] == [0] * 8, [o[-1500:] for job, o in zip(jobs, outputs) if job.returncode]

    client = MlflowClient(team_server)
    experiment = client.get_experiment_by_name("foreign-troops")
    runs = client.search_runs([experiment.experiment_id], max_results=1000)
    assert len(runs) == 8 and all(r.info.status == "FINISHED" for r in runs)
    assert sorted(int(r.data.params["seed"]) for r in runs) == list(range(8))
    for run in runs:  # each run's metrics and its artifacts, served by the server, are all there
        assert 0 <= run.data.metrics["macro_f1_mean"] <= 1
        names = {a.path for a in client.list_artifacts(run.info.run_id)}
        assert {"oof_predictions.csv", "fold_metrics.csv", "config.yaml"} <= names
    # commands read it as they read a local store
    proc = subprocess.run([STANCE, "compare", "--all-runs", "--no-log", "--out", str(tmp_path / "board"),
                           "-o", "tracking=postgres", "-o", f"data.path={tiny_corpus}"],
                          cwd=root, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (tmp_path / "board" / "leaderboard.md").read_text().count("tfidf_logreg") >= 1


def test_a_search_keeps_its_study_in_postgresql_and_resumes(team_server, postgres, tiny_corpus, tmp_path, root):
    import optuna

    storage = f"postgresql+psycopg2://mlflow@{postgres}/optuna"
    env = clean_env(MLFLOW_TRACKING_URI=team_server, STANCE_STUDY_STORAGE=storage)
    base = [STANCE, "train", "-m", "tracking=postgres", "hydra/sweeper=tfidf_search", f"data.path={tiny_corpus}",
            "eval.n_bootstrap=50", "debug=true"]
    for n_trials, folder in ((2, "first"), (3, "second")):
        proc = subprocess.run([*base, f"hydra.sweeper.n_trials={n_trials}", f"hydra.sweep.dir={tmp_path}/{folder}"],
                              cwd=root, env=env, capture_output=True, text=True, timeout=900)
        assert proc.returncode == 0, (proc.stdout + proc.stderr)[-2500:]
    assert "resuming with 2 trial(s)" in proc.stdout + proc.stderr
    study = optuna.load_study(study_name="tfidf-regularisation-tfidf_logreg", storage=storage)
    assert [t.state.name for t in study.trials] == ["COMPLETE"] * 3
    client = MlflowClient(team_server)
    runs = client.search_runs([client.get_experiment_by_name("foreign-troops").experiment_id], max_results=1000)
    trials = [r for r in runs if r.data.tags.get("mlflow.parentRunId")]  # the searches' runs
    assert len(trials) == 3 and all(r.info.status == "FINISHED" for r in trials)
    values = sorted(float(r.data.params["model.estimator.C"]) for r in trials)
    assert values == sorted(t.params["model.estimator.C"] for t in study.trials)
