"""Hydra finds sweepers only in the ``hydra_plugins`` namespace, and only classes defined there: this
is the project's one sweeper class, ``hydra/sweeper=tfidf_search`` and ``finetune_search``. Its
parts (search space, the study in its database, abandoned trials) are in
:mod:`stance.experiment.search`, which explains the search."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hydra.core.plugins import Plugins
from hydra.plugins.sweeper import Sweeper

from stance.errors import StanceError
from stance.experiment.search import fail_abandoned, open_study, search_space, trial_owner

log = logging.getLogger("stance.experiment.search")


class OptunaSweeper(Sweeper):
    """Hydra sweeper over an Optuna study kept in a database (see the module docstring)."""

    def __init__(self, params: dict | None = None, n_trials: int = 20, n_jobs: int = 1,
                 direction: str = "maximize", study_name: str = "stance", storage: str | None = None,
                 sampler: Any = None, max_failure_rate: float = 0.0):
        self.params = dict(params or {})
        self.n_trials, self.n_jobs = n_trials, n_jobs
        self.direction, self.study_name, self.storage = direction, study_name, storage
        self.sampler, self.max_failure_rate = sampler, max_failure_rate
        self.config = self.launcher = None
        self.job_idx = 0

    def setup(self, *, hydra_context, task_function, config) -> None:
        self.config = config
        self.launcher = Plugins.instance().instantiate_launcher(hydra_context=hydra_context,
                                                                task_function=task_function, config=config)

    def sweep(self, arguments: list[str]) -> None:
        from optuna.trial import TrialState

        space, fixed = search_space([f"{k}={v}" for k, v in self.params.items()] + list(arguments))
        if not space:
            raise StanceError("hydra.sweeper.params: nothing to search (give a range, interval or choice)")
        study = open_study(self.study_name, self.storage, self.sampler, self.direction)
        if abandoned := fail_abandoned(study):
            log.warning("search '%s': marked trial(s) %s of a process that is gone as FAIL", self.study_name,
                        ", ".join(map(str, abandoned)))
        counted = (TrialState.COMPLETE, TrialState.RUNNING, TrialState.PRUNED)
        done_before = len(study.get_trials(deepcopy=False, states=counted))
        if done_before:
            log.info("search '%s': resuming with %d trial(s) already in %s", self.study_name, done_before,
                     self.storage)
        while (to_go := self.n_trials - len(study.get_trials(deepcopy=False, states=counted))) > 0:
            trials = [study.ask(space) for _ in range(min(self.n_jobs, to_go))]
            for trial in trials:
                for key, value in trial_owner().items():
                    trial.set_user_attr(key, value)
            overrides = [tuple([*fixed, *(f"{k}={v}" for k, v in trial.params.items())]) for trial in trials]
            returns = self.launcher.launch(overrides, initial_job_idx=self.job_idx)
            self.job_idx += len(returns)
            failures = 0
            for trial, ret in zip(trials, returns):
                try:
                    study.tell(trial, float(ret.return_value))
                except Exception as exc:  # noqa: BLE001 - the job failed: its run says why
                    study.tell(trial, state=TrialState.FAIL)
                    log.warning("trial %d failed: %s", trial.number, str(exc).strip().splitlines()[-1:])
                    failures += 1
            if failures / len(returns) > self.max_failure_rate:
                for ret in returns:
                    ret.return_value  # noqa: B018 - re-raises the job's own error
        self._write_results(study)

    def _write_results(self, study) -> None:
        from omegaconf import OmegaConf

        from stance.io import atomic_write_text

        best = study.best_trial
        results = {"study_name": self.study_name, "storage": self.storage, "best_params": best.params,
                   "best_value": best.value, "n_trials": len(study.trials)}
        log.info("Best parameters: %s (objective %.4f, %d trials in the study)", best.params, best.value,
                 len(study.trials))
        atomic_write_text(Path(self.config.hydra.sweep.dir) / "optimization_results.yaml",
                          OmegaConf.to_yaml(OmegaConf.create(results)))
