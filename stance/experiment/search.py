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


def trial_owner() -> dict[str, str]:
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


def open_study(study_name: str, storage: str | None, sampler: Any = None, direction: str = "maximize"):
    """The Optuna study ``study_name`` in ``storage``, created if it is not there (workers started
    together may race to create it: the loser tries again)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if storage and storage.startswith("sqlite:///"):
        Path(storage[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    # workers started together on a fresh database race to create its tables (and the study):
    # the loser sees a unique-constraint error, and the tables are there when it tries again
    for attempt in range(5):
        try:
            return optuna.create_study(study_name=study_name, storage=storage,
                                       sampler=sampler, direction=direction, load_if_exists=True)
        except Exception as exc:  # noqa: BLE001 - an unreachable or unusable database: one line
            first = str(exc).strip().splitlines()[0]
            if "UNIQUE constraint" in first or "UniqueViolation" in first or "already exists" in first:
                if attempt < 4:
                    time.sleep(0.2 * (attempt + 1))
                    continue
            raise StanceError(f"cannot open the search study '{study_name}' in {storage}: "
                              f"{first}") from None
