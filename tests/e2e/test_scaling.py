"""Scaling out: a real ``mlflow server`` as the store, and sweeps whose jobs run in parallel
processes (the joblib launcher) against the embedded sqlite store and against the server."""

import shutil
import subprocess
import sys
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from stance.labels import LABELS
from tests_helpers import clean_env, start_mlflow_server, stop_process

STANCE = shutil.which("stance", path=str(Path(sys.executable).parent))
PARALLEL_JOBS = 8


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A tracking server on 127.0.0.1: sqlite backend, artifacts served by the server."""
    home = tmp_path_factory.mktemp("server")
    url, process = start_mlflow_server(home)
    yield {"url": url, "home": home}
    stop_process(process)


def stance_train(root, corpus, workdir, *args, env=None, timeout=900):
    command = [STANCE, "train", f"data.path={corpus}", "eval.n_bootstrap=50", f"hydra.run.dir={workdir}/run",
               f"hydra.sweep.dir={workdir}/sweep", *args]
    return subprocess.run(command, cwd=root, env=env or clean_env(), capture_output=True, text=True, timeout=timeout)


def check_parallel_sweep(proc, client, experiment):
    """Every job's run FINISHED under one parent, each with all its metrics exactly once."""
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-3000:]
    assert "database is locked" not in output
    runs = client.search_runs([client.get_experiment_by_name(experiment).experiment_id])
    [parent] = [r for r in runs if r.data.tags.get("stance.role") == "sweep"]
    children = [r for r in runs if r is not parent]
    assert parent.info.status == "FINISHED"
    assert all(r.data.tags["mlflow.parentRunId"] == parent.info.run_id for r in children)
    assert sorted(int(r.data.params["seed"]) for r in children) == list(range(1, PARALLEL_JOBS + 1))
    assert [r.info.status for r in children] == ["FINISHED"] * PARALLEL_JOBS
    metric_names = {frozenset(r.data.metrics) for r in children}
    assert len(metric_names) == 1 and {"macro_f1_mean", "macro_f1_ci_low", "n_folds"} <= next(iter(metric_names))
    for run in children:  # per-fold metrics: one value per fold, none lost, none logged twice
        assert [m.step for m in client.get_metric_history(run.info.run_id, "macro_f1")] == [0, 1]
    return children


SWEEP = ["-m", "hydra/launcher=parallel", f"hydra.launcher.n_jobs={PARALLEL_JOBS}", "model=majority", "debug=true",
         "seed=" + ",".join(str(s) for s in range(1, PARALLEL_JOBS + 1))]


@pytest.mark.slow
def test_parallel_sweep_against_the_embedded_sqlite_store(root, tiny_corpus, tmp_path):
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    proc = stance_train(root, tiny_corpus, tmp_path, *SWEEP, f"tracking.uri={uri}",
                        f"tracking.artifact_root={tmp_path}/artifacts", "experiment_name=parallel-sqlite")
    children = check_parallel_sweep(proc, MlflowClient(uri), "parallel-sqlite")
    assert len({r.info.run_id for r in children}) == PARALLEL_JOBS


@pytest.mark.slow
def test_parallel_sweep_against_the_server_is_read_back_through_it(server, root, tiny_corpus, tmp_path):
    env = clean_env(MLFLOW_TRACKING_URI=server["url"])  # tracking=server takes the address from here
    proc = stance_train(root, tiny_corpus, tmp_path, *SWEEP, "tracking=server", "experiment_name=parallel-server",
                        env=env)
    assert f"tracking to {server['url']}" in proc.stdout + proc.stderr
    client = MlflowClient(server["url"])
    children = check_parallel_sweep(proc, client, "parallel-server")
    assert "database is locked" not in (server["home"] / "server.log").read_text()  # nor behind the server

    # one job's run, its artifacts and its model, read back through the server
    run = children[0]
    assert run.info.artifact_uri.startswith("mlflow-artifacts:")  # the server holds the artifacts
    names = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"oof_predictions.csv", "config.yaml", "fold_metrics.csv"} <= names
    stored = list((server["home"] / "artifacts").rglob("oof_predictions.csv"))
    assert len(stored) == PARALLEL_JOBS and any(run.info.run_id in str(path) for path in stored)
    mlflow.set_tracking_uri(server["url"])
    model = mlflow.pyfunc.load_model(run.data.tags["stance.model_uri"])  # fetched through the server
    out = model.predict(pd.DataFrame({"text": ["Moscow called any deployment unacceptable.", "Talks went on."]}))
    assert list(out.columns) == ["label", *LABELS] and set(out["label"]) <= set(LABELS)


def test_server_tracking_takes_its_address_from_mlflow_tracking_uri(monkeypatch):
    from stance.experiment.config import compose

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert compose(["tracking=server"]).tracking.uri == "http://127.0.0.1:5000"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://tracking.example.org:8080")
    assert compose(["tracking=server"]).tracking.uri == "http://tracking.example.org:8080"
