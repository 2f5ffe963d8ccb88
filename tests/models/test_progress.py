"""Validation scores by epoch: held-out statements offered to a fit, scored after each epoch by the
models that train in epochs, reported as ``val_<name>`` without changing the trained model."""

import json
import logging
import threading

import numpy as np
import pandas as pd
import pytest

from stance.models.progress import listening, trainer_callback, validation, validation_set, validation_values


class Recorder:
    """A listener that keeps what it is told, in order."""

    def __init__(self):
        self.fits, self.points = [], []

    def fit_started(self, name):
        self.fits.append(name)

    def metrics(self, values, step):
        self.points.append((step, values))

    def history(self, name):
        return [(step, values[name]) for step, values in self.points if name in values]


@pytest.fixture
def folds(tiny_corpus):
    """The tiny corpus split by document: three documents to train on, the fourth held out."""
    records = [json.loads(line) for line in tiny_corpus.read_text().splitlines()]
    X = pd.DataFrame({"text": [r["text"] for r in records], "target": [r["target"] for r in records]})
    y = np.array([r["label"] for r in records])
    held = np.array([r["document"] == "doc4" for r in records])
    return X[~held], y[~held], X[held], y[held]


def test_validation_offers_the_statements_only_inside_the_block_and_only_to_its_thread():
    X, y = ["a", "b"], ["support", "oppose"]
    seen = []
    assert validation_set() is None
    with validation(X, y):
        assert validation_set() == (X, y)
        with validation(["c"], ["neutral"]):
            assert validation_set() == (["c"], ["neutral"])
        assert validation_set() == (X, y)
        worker = threading.Thread(target=lambda: seen.append(validation_set()))
        worker.start()
        worker.join()
    assert validation_set() is None
    assert seen == [None]  # a job in another thread does not see this fold's statements


def test_evaluation_logs_become_val_metrics_and_timings_are_left_out():
    logs = {"eval_loss": 0.9, "eval_macro_f1": 0.5, "eval_runtime": 1.2, "eval_samples_per_second": 40.0,
            "eval_steps_per_second": 3.0, "epoch": 1.0}
    assert validation_values(logs) == {"val_loss": 0.9, "val_macro_f1": 0.5}
    assert validation_values({"eval_embedding_loss": 0.1}) == {"val_embedding_loss": 0.1}
    assert validation_values({"loss": 1.1, "learning_rate": 1e-4, "epoch": 0.5}) == {}


def test_the_callback_reports_an_evaluation_as_val_metrics_at_its_step_and_prints_one_line(tmp_path, caplog):
    from transformers import TrainerControl, TrainerState, TrainingArguments

    args = TrainingArguments(output_dir=str(tmp_path), num_train_epochs=2, report_to="none", use_cpu=True)
    state, control = TrainerState(max_steps=6), TrainerControl()
    callback, recorder = trainer_callback("fine-tuning (fp32)"), Recorder()
    with caplog.at_level(logging.INFO, logger="stance"), listening(recorder):
        callback.on_train_begin(args, state, control)
        state.global_step, state.epoch = 3, 1.0
        callback.on_log(args, state, control, logs={"loss": 1.05, "learning_rate": 1e-4, "epoch": 1.0})
        callback.on_log(args, state, control, logs={"eval_loss": 0.98, "eval_macro_f1": 0.42, "eval_runtime": 0.3,
                                                    "epoch": 1.0})
    assert recorder.fits == ["fine-tuning (fp32)"]
    assert recorder.points[-1] == (3, {"val_loss": 0.98, "val_macro_f1": 0.42})
    assert recorder.history("loss") == [(3, 1.05)]  # the evaluation is not a training loss
    lines = [r.getMessage() for r in caplog.records if "validation" in r.getMessage()]
    assert lines == [("fine-tuning (fp32): epoch 1.00/2, validation loss 0.9800, macro-F1 0.4200, "
                      "training loss 1.0500")]


@pytest.mark.slow
def test_fine_tuning_scores_the_held_out_statements_each_epoch_without_changing_the_model(folds):
    from sklearn.metrics import f1_score

    from stance.models import FineTuneClassifier

    X, y, X_val, y_val = folds  # 18 statements, batches of 8: 3 steps an epoch, 4 steps end in epoch 2

    def fit():
        return FineTuneClassifier(max_steps=4, batch_size=8, mixed_precision=False, seed=5).fit(X, y)

    recorder = Recorder()
    with listening(recorder):
        plain = fit()
        assert recorder.fits and recorder.history("val_macro_f1") == []  # no held-out statements: no scores
        recorder.points.clear()
        with validation(X_val, y_val):
            watched = fit()
    scores = recorder.history("val_macro_f1")
    assert [step for step, _ in scores] == [3, 4]  # once an epoch, at the step that ends it
    assert [step for step, _ in recorder.history("val_loss")] == [3, 4]
    assert all(0.0 <= value <= 1.0 for _, value in scores)
    # the last epoch's score is the trained model's macro-F1 on the held-out statements
    assert scores[-1][1] == pytest.approx(f1_score(y_val, watched.predict(X_val), average="macro"))
    assert np.array_equal(plain.predict_proba(X), watched.predict_proba(X))  # watching selects nothing


@pytest.mark.slow
def test_a_label_the_fine_tuning_never_saw_counts_as_an_error_in_the_validation_score(folds):
    from sklearn.metrics import f1_score

    from stance.models import FineTuneClassifier

    X, y, X_val, y_val = folds
    known = y != "neutral"  # trained on two labels, scored on three
    recorder = Recorder()
    with listening(recorder), validation(X_val, y_val):
        model = FineTuneClassifier(max_steps=1, batch_size=8, mixed_precision=False).fit(X[known], y[known])
    assert list(model.classes_) == ["oppose", "support"]
    [(_, score)] = recorder.history("val_macro_f1")
    assert score == pytest.approx(f1_score(y_val, model.predict(X_val), average="macro"))
    assert len(recorder.history("val_loss")) == 1  # the loss is over the statements of known labels


@pytest.mark.slow
def test_setfit_reports_its_validation_embedding_loss_each_epoch_without_changing_the_model(folds):
    from stance.models import SetFitClassifier

    X, y, X_val, y_val = folds  # 18 statements, 36 pairs, batches of 16: 3 steps an epoch

    def fit(**settings):
        return SetFitClassifier(num_iterations=1, num_epochs=2, batch_size=16, seed=5, **settings).fit(X, y)

    recorder = Recorder()
    with listening(recorder):
        plain = fit()
        assert recorder.history("val_embedding_loss") == []
        with validation(X_val, y_val):
            watched = fit()
        recorder_single = Recorder()
        with listening(recorder_single), validation(X_val[y_val == "neutral"], y_val[y_val == "neutral"]):
            fit(max_steps=1)  # one label held out: no negative pair to score, so no validation (and no error)
    losses = recorder.history("val_embedding_loss")
    assert [step for step, _ in losses] == [3, 6] and all(value >= 0 for _, value in losses)
    assert recorder_single.history("val_embedding_loss") == []
    assert np.array_equal(plain.predict_proba(X), watched.predict_proba(X))
