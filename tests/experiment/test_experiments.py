"""Every named experiment runs end to end in debug mode (one-step models, two folds),
job by job as its sweep would, so that no experiment config can rot."""

import re
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from stance.experiment.engine import train

EXPERIMENTS = sorted((Path(__file__).resolve().parents[2] / "experiments").glob("*.yaml"))


def sweep_jobs(path: Path) -> list[list[str]]:
    """Jobs that between them run every value of every swept axis (not the whole grid)."""
    params = OmegaConf.select(OmegaConf.load(path), "hydra.sweeper.params") or {}
    # commas inside brackets belong to one value (extra_train.groups: "[written-a,written-b],null")
    axes = [[f"{key}={value.strip()}" for value in re.split(r",(?![^\[]*\])", str(values))]
            for key, values in params.items()]
    rounds = max((len(axis) for axis in axes), default=0)
    return [[axis[k % len(axis)] for axis in axes] for k in range(rounds)] or [[]]


def test_experiments_exist_and_say_what_question_they_answer():
    assert EXPERIMENTS
    for path in EXPERIMENTS:
        text = path.read_text()
        assert text.startswith("# @package _global_"), path
        assert "Question:" in text, path


def tiny_data(path: Path, job: list[str], tiny_tweeteval: Path) -> list[str]:
    """Overrides that point an experiment's corpora at tiny copies."""
    overrides = []
    if "override /data: tweeteval" in path.read_text():
        overrides.append(f"data.path={tiny_tweeteval}")
    if "extra_train=tweeteval" in job:
        overrides.append(f"extra_train.path={tiny_tweeteval}")
    written = "extra_train=written" in job or ("override /extra_train: written" in path.read_text()
                                               and not any(j.startswith("extra_train=") for j in job))
    if written and not any(j.startswith("extra_train.sample=") for j in job):
        overrides.append("extra_train.sample=30")  # a seeded, stratified 30 of the 636 written statements
    return overrides


@pytest.mark.slow
@pytest.mark.parametrize("path", EXPERIMENTS, ids=[p.stem for p in EXPERIMENTS])
def test_experiment_runs_in_debug_mode(path, make_cfg, tiny_tweeteval):
    for job in sweep_jobs(path):
        cfg = make_cfg(f"+experiment={path.stem}", "debug=true", *job, *tiny_data(path, job, tiny_tweeteval))
        result = train(cfg, overrides=job)
        assert result.run_id and len(result.folds) <= cfg.eval.debug_folds
        assert result.predictions["predicted"].notna().all()
        assert (result.model_uri is None) == (not cfg.eval.refit)
