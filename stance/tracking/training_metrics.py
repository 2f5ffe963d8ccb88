"""Training metrics into the open run, as they come: the listener on the models' metrics logger.

Models report their training progress without knowing MLflow (:mod:`stance.models.progress`:
log records carrying values and a step on the ``stance.metrics`` logger). While a run is open,
:func:`listening` attaches a handler that logs those values to it as steps, so that the loss of a
fine-tuning that takes minutes can be watched in the MLflow UI as it falls. The fits of a run are
numbered in the order they start (the folds, then the model on all the data): metric
``fit<N>/<name>``, e.g. ``fit1/loss``, ``fit1/epoch``, ``fit1/learning_rate``.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator

import mlflow

#: The models' metrics logger (:data:`stance.models.progress.METRICS_LOGGER`; named here, not
#: imported, so that the tracking adapter does not import the models).
METRICS_LOGGER = "stance.metrics"

log = logging.getLogger(__name__)


class RunMetricsHandler(logging.Handler):
    """Logs each training-metrics record to one run; a failure to log warns once and never stops training."""

    def __init__(self, run_id: str):
        super().__init__(level=logging.INFO)
        self.run_id = run_id
        self.fits = 0
        self.failed = False

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(record, "stance_fit", None) is not None:
            self.fits += 1
            return
        values = getattr(record, "stance_metrics", None)
        if not values or self.failed:
            return
        prefix = f"fit{max(self.fits, 1)}/"
        try:
            mlflow.log_metrics({prefix + k: v for k, v in values.items()}, step=int(getattr(record, "stance_step", 0)),
                               run_id=self.run_id, timestamp=int(time.time() * 1000))
        except Exception as exc:  # the store went away: the run's end will say so, training goes on
            self.failed = True
            log.warning("training metrics are no longer logged to run %s: %s", self.run_id, exc)


@contextlib.contextmanager
def listening(run_id: str) -> Iterator[RunMetricsHandler]:
    """Log the models' training metrics to ``run_id`` while the block runs."""
    logger = logging.getLogger(METRICS_LOGGER)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    handler = RunMetricsHandler(run_id)
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
