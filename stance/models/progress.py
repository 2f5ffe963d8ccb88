"""How long training shows itself: progress lines on the terminal, and training metrics handed to
whoever records the run, without the models knowing about MLflow.

A model that trains for minutes passes :func:`trainer_callback` to its ``Trainer`` (fine-tuning,
SetFit). The callback prints, about ten times an epoch, the epoch, the step, the loss and the
time left, and reports each logged value (loss, learning rate, epoch) as a training metric to the
listeners registered with :func:`listening`. The tracker (:mod:`stance.tracking.training_metrics`)
listens while a run is open and logs the values to it as steps, so that a running job can be
watched in the MLflow UI; with no listener the values go nowhere.

Validation scores by epoch: whoever fits a model inside :func:`validation` (the experiment engine,
around each fold's fit, with the fold's held-out statements) offers those statements to the
model; a model that trains in epochs asks :func:`validation_set` and, if there is one, has its
``Trainer`` score them after each epoch. The callback reports the ``Trainer``'s ``eval_<name>``
values as ``val_<name>`` (``val_macro_f1`` and ``val_loss`` for fine-tuning, ``val_embedding_loss``
for SetFit) at the step they were computed, and prints one line an epoch. The scores are only
watched: nothing stops early, no checkpoint is chosen by them, and the trained model is the one
trained without them (same seed and data, same predictions).
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import math
import threading
import time
from collections.abc import Iterator
from typing import Any, Protocol

log = logging.getLogger("stance")

#: Progress lines per epoch on the terminal (and metric points per epoch in the run).
LINES_PER_EPOCH = 10


class Listener(Protocol):
    """What receives training metrics: the start of each fit, then values by step."""

    def fit_started(self, name: str) -> None: ...

    def metrics(self, values: dict[str, float], step: int) -> None: ...


_listeners: list[Listener] = []
_lock = threading.Lock()
#: The statements a model fitted now may score after each epoch: (X, y) or None.
_validation: contextvars.ContextVar[tuple[Any, Any] | None] = contextvars.ContextVar("stance_validation",
                                                                                        default=None)
#: ``Trainer`` evaluation values that are timings, not scores: not reported.
_EVAL_TIMINGS = ("runtime", "samples_per_second", "steps_per_second", "model_preparation_time")


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


@contextlib.contextmanager
def validation(X, y) -> Iterator[None]:
    """Offer held-out statements to the models fitted while the block runs, to score after each epoch.

    Parameters
    ----------
    X : pandas.DataFrame or list of str
        The held-out statements, as ``fit`` takes them (``text`` and optional ``target``).
    y : array-like of str
        Their gold labels (a label the model never saw in training counts as an error).

    Notes
    -----
    Only models that train in epochs with a ``Trainer`` use them (fine-tuning, SetFit); the others
    ignore them. The scores are for watching a run: evaluation selects nothing (no early stopping,
    no best checkpoint), and a model trains the same with or without them. The setting is
    per thread (a context variable), so parallel jobs in threads do not see each other's.
    """
    token = _validation.set((X, y))
    try:
        yield
    finally:
        _validation.reset(token)


def validation_set() -> tuple[Any, Any] | None:
    """The held-out statements a model being fitted may score after each epoch.

    Returns
    -------
    tuple or None
        ``(X, y)`` as given to the innermost :func:`validation` block, or None outside one (the
        final model on all the data, a model fitted by hand).
    """
    return _validation.get()


def keep_random_state(trainer) -> None:
    """Make a trainer's evaluation leave the random state of the training as it found it.

    Parameters
    ----------
    trainer : transformers.Trainer
        Its ``evaluate`` is wrapped in ``torch.random.fork_rng``, so that scoring held-out
        statements between epochs changes no later random draw of the training (dropout, data
        order). Without it, evaluating after each epoch changes the trained model's predictions.
    """
    import torch

    evaluate = trainer.evaluate

    def evaluate_aside(*args, **kwargs):
        with torch.random.fork_rng():
            return evaluate(*args, **kwargs)

    trainer.evaluate = evaluate_aside


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


def validation_values(logs: dict[str, Any]) -> dict[str, float]:
    """A ``Trainer``'s evaluation log as validation metrics.

    Parameters
    ----------
    logs : dict
        What the ``Trainer`` logs (``on_log``).

    Returns
    -------
    dict
        ``eval_<name>`` as ``val_<name>`` (``eval_macro_f1`` -> ``val_macro_f1``,
        ``eval_embedding_loss`` -> ``val_embedding_loss``); timings (runtime, throughput) and
        training values are left out. Empty for a training log.
    """
    return {f"val_{key[len('eval_'):]}": value for key, value in logs.items()
            if key.startswith("eval_") and not key.endswith(_EVAL_TIMINGS) and isinstance(value, (int, float))}


def trainer_callback(what: str):
    """A ``transformers.TrainerCallback`` that prints progress (epoch, step, loss, time left) and
    reports the logged values as training metrics (:func:`report_metrics`); evaluation logs become
    ``val_<name>`` metrics (:func:`validation_values`) and one line an epoch."""
    from transformers import TrainerCallback

    class Progress(TrainerCallback):
        started = 0.0
        last_loss = math.nan

        def on_train_begin(self, args, state, control, **kwargs):
            self.started = time.perf_counter()
            report_fit(what)

        def on_log(self, args, state, control, logs=None, **kwargs):
            logs = logs or {}
            validated = validation_values(logs)
            if validated:
                self._validated(validated, args, state)
            loss = logs.get("loss", logs.get("embedding_loss"))
            if loss is None:
                return
            self.last_loss = loss
            elapsed = time.perf_counter() - self.started
            left = elapsed / max(state.global_step, 1) * max(state.max_steps - state.global_step, 0)
            log.info("%s: epoch %.2f/%g, step %d/%d, loss %.4f, %.0f s so far, about %.0f s left", what,
                     state.epoch or 0, args.num_train_epochs, state.global_step, state.max_steps, loss, elapsed, left)
            report_metrics({"loss": loss, "epoch": state.epoch or 0, "learning_rate": logs.get("learning_rate", math.nan),
                            "seconds": elapsed}, step=state.global_step)

        def _validated(self, values: dict[str, float], args, state) -> None:
            scores = ", ".join(f"{name.removeprefix('val_').replace('macro_f1', 'macro-F1').replace('_', ' ')} "
                               f"{value:.4f}" for name, value in values.items())
            log.info("%s: epoch %.2f/%g, validation %s, training loss %.4f", what, state.epoch or 0,
                     args.num_train_epochs, scores, self.last_loss)
            report_metrics(values, step=state.global_step)

    return Progress()
