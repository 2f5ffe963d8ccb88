"""Training metrics into the open run, as they come: the tracker's listener on the models' progress.

Models report their training progress without knowing MLflow (:mod:`stance.models.progress`).
While a run is open, :func:`listening` registers a listener that logs those values to it as steps,
so that the loss of a fine-tuning that takes minutes can be watched in the MLflow UI as it falls.
The fits of a run are numbered in the order they start (the folds, then the model on all the
data): metric ``fit<N>/<name>``, e.g. ``fit1/loss``, ``fit1/epoch``, ``fit1/learning_rate``. A fold's
fit also scores the fold's held-out statements after each epoch (:func:`stance.models.progress.validation`):
``fit1/val_macro_f1`` and ``fit1/val_loss`` (fine-tuning), ``fit1/val_embedding_loss`` (SetFit), at the
step of the epoch's end; the final model, trained on all the data, has none.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator

import mlflow

log = logging.getLogger(__name__)


class RunMetrics:
    """Logs each fit's training metrics to one run; a failure to log warns once and never stops training."""

    def __init__(self, run_id: str):
        self.run_id = run_id
        self.fits = 0
        self.failed = False

    def fit_started(self, name: str) -> None:
        self.fits += 1

    def metrics(self, values: dict[str, float], step: int) -> None:
        if self.failed:
            return
        prefix = f"fit{max(self.fits, 1)}/"
        try:
            mlflow.log_metrics({prefix + k: v for k, v in values.items()}, step=step, run_id=self.run_id,
                               timestamp=int(time.time() * 1000))
        except Exception as exc:  # the store went away: the run's end will say so, training goes on
            self.failed = True
            log.warning("training metrics are no longer logged to run %s: %s", self.run_id, exc)


@contextlib.contextmanager
def listening(run_id: str) -> Iterator[RunMetrics]:
    """Log the models' training metrics to ``run_id`` while the block runs."""
    from stance.models.progress import listening as models_listening

    with models_listening(RunMetrics(run_id)) as listener:
        yield listener
