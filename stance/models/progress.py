"""How long training shows itself: progress lines on the terminal, and training metrics handed to
whoever records the run, without the models knowing about MLflow.

A model that trains for minutes passes :func:`trainer_callback` to its ``Trainer`` (fine-tuning,
SetFit). The callback prints, about ten times an epoch, the epoch, the step, the loss and the
time left, and reports each logged value (loss, learning rate, epoch) as a training metric to the
listeners registered with :func:`listening`. The tracker (:mod:`stance.tracking.training_metrics`)
listens while a run is open and logs the values to it as steps, so that a running job can be
watched in the MLflow UI; with no listener the values go nowhere.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
from collections.abc import Iterator
from typing import Protocol

log = logging.getLogger("stance")

#: Progress lines per epoch on the terminal (and metric points per epoch in the run).
LINES_PER_EPOCH = 10


class Listener(Protocol):
    """What receives training metrics: the start of each fit, then values by step."""

    def fit_started(self, name: str) -> None: ...

    def metrics(self, values: dict[str, float], step: int) -> None: ...


_listeners: list[Listener] = []
_lock = threading.Lock()


@contextlib.contextmanager
def listening(listener: Listener) -> Iterator[Listener]:
    """Send the training metrics reported while the block runs to ``listener`` too."""
    with _lock:
        _listeners.append(listener)
    try:
        yield listener
    finally:
        with _lock:
            _listeners.remove(listener)


def report_fit(name: str) -> None:
    """Say that a fit begins (the tracker numbers the fits of a run: the folds, then the final model)."""
    for listener in list(_listeners):
        listener.fit_started(name)


def report_metrics(metrics: dict[str, float], step: int) -> None:
    """Hand training metrics at ``step`` to the listeners, if any (NaN and infinite values are dropped)."""
    values = {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float)) and math.isfinite(v)}
    if values:
        for listener in list(_listeners):
            listener.metrics(values, int(step))


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
