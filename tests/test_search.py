"""Clusters and search: the submitit launcher (its local executor standing in for SLURM) and
the Optuna sweeper configs, through the real ``stance train`` and Hydra's plugins."""

import math
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from mlflow.tracking import MlflowClient

from stance.config import config_dir, register_configs
from tests_helpers import clean_env

STANCE = shutil.which("stance", path=str(Path(sys.executable).parent))


def compose_with_hydra(*overrides):
    register_configs()
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides), return_hydra_config=True)


def sweep(root, corpus, workdir, *args):
    uri = f"sqlite:///{workdir}/mlflow.db"
    command = [STANCE, "train", "-m", f"data.path={corpus}", f"tracking.uri={uri}",
               f"tracking.artifact_root={workdir}/art", "eval.n_bootstrap=50", "debug=true",
               f"hydra.sweep.dir={workdir}/sweep", *args]
    proc = subprocess.run(command, cwd=root, env=clean_env(), capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    client = MlflowClient(uri)
    runs = client.search_runs([client.get_experiment_by_name("foreign-troops").experiment_id])
    [parent] = [r for r in runs if r.data.tags.get("stance.role") == "sweep"]
    assert parent.info.status == "FINISHED"
    return proc, [r for r in runs if r is not parent]


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
    """The sweeper's params as Optuna distributions, parsed by the plugin itself."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra_plugins.hydra_optuna_sweeper._impl import create_optuna_distribution_from_override

    sweeper = compose_with_hydra(*overrides).hydra.sweeper
    parsed = OverridesParser.create().parse_overrides([f"{k}={v}" for k, v in sweeper.params.items()])
    return sweeper, {o.get_key_element(): create_optuna_distribution_from_override(o) for o in parsed}


def is_log(distribution) -> bool:
    """A log-scale distribution (``log=True`` in Optuna 3, a LogUniformDistribution in Optuna 2)."""
    return getattr(distribution, "log", type(distribution).__name__ == "LogUniformDistribution")


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
    assert "Best parameters" in proc.stdout + proc.stderr  # Optuna's summary of the study
