"""How long training shows itself: progress lines on the terminal, and training metrics handed to
whoever records the run, without the models knowing about MLflow.

A model that trains for minutes passes :func:`trainer_callback` to its ``Trainer`` (fine-tuning,
SetFit). The callback prints, about ten times an epoch, the epoch, the step, the loss and the
time left, and reports each logged value (loss, learning rate, epoch) as a training metric:
a log record on the :data:`METRICS_LOGGER` logger that carries the values and the step. The
tracker (:mod:`stance.tracking.tracker`) listens on that logger while a run is open and logs the
values to the run as steps, so that a running job can be watched in the MLflow UI; without a
listener the records go nowhere (the logger does not propagate to the terminal).
"""

from __future__ import annotations

import logging
import math
import time

log = logging.getLogger("stance")

#: The logger that carries training metrics to the tracker; a record has ``stance_metrics`` (a
#: dict of floats) and ``stance_step``, or ``stance_fit`` (the name of a fit that begins).
METRICS_LOGGER = "stance.metrics"
#: Progress lines per epoch on the terminal (and metric points per epoch in the run).
LINES_PER_EPOCH = 10


def _metrics_logger() -> logging.Logger:
    logger = logging.getLogger(METRICS_LOGGER)
    logger.propagate = False  # values for the tracker, not lines for the terminal
    logger.setLevel(logging.INFO)
    return logger


def report_fit(name: str) -> None:
    """Say that a fit begins (the tracker numbers the fits of a run: the folds, then the final model)."""
    _metrics_logger().info("fit %s", name, extra={"stance_fit": name})


def report_metrics(metrics: dict[str, float], step: int) -> None:
    """Hand training metrics at ``step`` to the tracker listening, if any."""
    values = {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float)) and math.isfinite(v)}
    if values:
        _metrics_logger().info("metrics", extra={"stance_metrics": values, "stance_step": int(step)})


def logging_steps(n_examples: int, batch_size: int, accumulation: int = 1) -> int:
    """Optimizer steps between two progress lines: about :data:`LINES_PER_EPOCH` an epoch."""
    per_epoch = max(1, math.ceil(n_examples / max(1, batch_size * accumulation)))
    return max(1, per_epoch // LINES_PER_EPOCH)


def trainer_callback(what: str):
    """A ``transformers.TrainerCallback`` that prints progress (epoch, step, loss, time left) and
    reports the logged values as training metrics (:func:`report_metrics`)."""
    from transformers import TrainerCallback

    class Progress(TrainerCallback):
        started = 0.0

        def on_train_begin(self, args, state, control, **kwargs):
            self.started = time.perf_counter()
            report_fit(what)

        def on_log(self, args, state, control, logs=None, **kwargs):
            logs = logs or {}
            loss = logs.get("loss", logs.get("embedding_loss"))
            if loss is None:
                return
            elapsed = time.perf_counter() - self.started
            left = elapsed / max(state.global_step, 1) * max(state.max_steps - state.global_step, 0)
            log.info("%s: epoch %.2f/%g, step %d/%d, loss %.4f, %.0f s so far, about %.0f s left", what,
                     state.epoch or 0, args.num_train_epochs, state.global_step, state.max_steps, loss, elapsed, left)
            report_metrics({"loss": loss, "epoch": state.epoch or 0, "learning_rate": logs.get("learning_rate", math.nan),
                            "seconds": elapsed}, step=state.global_step)

    return Progress()
