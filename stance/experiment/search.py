"""Hyper-parameter search: a Hydra sweeper that asks Optuna for each trial's parameters.

``stance train -m hydra/sweeper=tfidf_search`` runs trials as jobs of the configured
launcher (so ``hydra/launcher=parallel`` runs ``n_jobs`` at a time), each an ordinary
``stance train`` run under the sweep's MLflow parent run, and tells Optuna the objective
the job returns.

The study lives in a database (``storage``: ``tracking.study_storage``, a sqlite file
beside the MLflow store by default, or the team's PostgreSQL with ``tracking=postgres``):

- workers started anywhere with the same ``study_name`` and storage share one study, and
  together run ``n_trials`` trials (``n_trials`` counts every trial of the study that is
  complete or running, whoever runs it);
- a search that was interrupted resumes when the same command is run again: finished
  trials count, and trials left RUNNING by a process that is gone are marked FAIL first.

The search space uses Hydra's override grammar, as Hydra's own Optuna plugin does:
``interval(a, b)`` (float; ``int(interval(a, b))`` for integers), ``tag(log, interval(a, b))``
on a log scale, ``range(a, b[, step])``, and ``choice(x, y)`` or ``x,y``.
"""

from __future__ import annotations

import logging
import socket
import time
from pathlib import Path
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import IntervalSweep, Override, RangeSweep
from hydra.core.plugins import Plugins
from hydra.plugins.sweeper import Sweeper

from stance.errors import StanceError

log = logging.getLogger(__name__)


def distribution(override: Override):
    """An Optuna distribution for a sweep override, or None for a fixed value."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    if not override.is_sweep_override():
        return None
    value = override.value()
    if override.is_choice_sweep() or (isinstance(value, RangeSweep) and value.shuffle):
        return CategoricalDistribution(list(override.sweep_iterator()))
    if isinstance(value, RangeSweep):
        numbers = (value.start, value.stop, value.step)
        if any(isinstance(x, float) for x in numbers):
            return FloatDistribution(value.start, value.stop, step=value.step)
        return IntDistribution(int(value.start), int(value.stop) - 1, step=int(value.step))  # stop excluded
    if isinstance(value, IntervalSweep):
        log_scale = "log" in value.tags
        if isinstance(value.start, int) and isinstance(value.end, int):
            return IntDistribution(value.start, value.end, log=log_scale)
        return FloatDistribution(float(value.start), float(value.end), log=log_scale)
    raise StanceError(f"hydra.sweeper.params: cannot search '{override.input_line}'")


def search_space(lines: list[str]) -> tuple[dict[str, Any], list[str]]:
    """``key=value`` lines (the sweeper's params and the command line) as (distributions by
    key, fixed overrides). A key given on the command line wins over the params."""
    by_key = {line.split("=", 1)[0]: line for line in lines}
    space, fixed = {}, []
    for override in OverridesParser.create().parse_overrides(list(by_key.values())):
        found = distribution(override)
        if found is None:
            fixed.append(override.input_line)
        else:
            space[override.get_key_element()] = found
    return space, fixed


def _owner() -> dict[str, str]:
    from stance.tracking.liveness import owner_tags

    return {k.removeprefix("stance."): v for k, v in owner_tags().items()}


def fail_abandoned(study) -> list[int]:
    """Mark trials left RUNNING by a process on this host that is gone as FAIL; their numbers."""
    from optuna.exceptions import UpdateFinishedTrialError
    from optuna.trial import TrialState

    from stance.tracking.liveness import alive

    failed = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        owner = trial.user_attrs
        if (owner.get("host") == socket.gethostname() and str(owner.get("pid", "")).isdigit()
                and not alive(int(owner["pid"]), owner.get("pid_start", ""))):
            try:
                study.tell(trial.number, state=TrialState.FAIL)
            except (UpdateFinishedTrialError, ValueError):
                # another worker that opened the study marked it first: between our read and our write
                # (UpdateFinishedTrialError) or before optuna's own read of the trial ("Cannot tell a
                # FAIL trial", a ValueError)
                continue
            failed.append(trial.number)
    return failed


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

    def study(self):
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        if self.storage and self.storage.startswith("sqlite:///"):
            Path(self.storage[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
        # workers started together on a fresh database race to create its tables (and the study):
        # the loser sees a unique-constraint error, and the tables are there when it tries again
        for attempt in range(5):
            try:
                return optuna.create_study(study_name=self.study_name, storage=self.storage,
                                           sampler=self.sampler, direction=self.direction, load_if_exists=True)
            except Exception as exc:  # noqa: BLE001 - an unreachable or unusable database: one line
                first = str(exc).strip().splitlines()[0]
                if "UNIQUE constraint" in first or "UniqueViolation" in first or "already exists" in first:
                    if attempt < 4:
                        time.sleep(0.2 * (attempt + 1))
                        continue
                raise StanceError(f"cannot open the search study '{self.study_name}' in {self.storage}: "
                                  f"{first}") from None

    def sweep(self, arguments: list[str]) -> None:
        from optuna.trial import TrialState

        space, fixed = search_space([f"{k}={v}" for k, v in self.params.items()] + list(arguments))
        if not space:
            raise StanceError("hydra.sweeper.params: nothing to search (give a range, interval or choice)")
        study = self.study()
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
                for key, value in _owner().items():
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
