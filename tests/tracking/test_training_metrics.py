"""Training progress reaches the terminal and the open MLflow run as steps, while training runs."""

import logging

import pytest
from mlflow.tracking import MlflowClient

from stance.models.progress import logging_steps, report_fit, report_metrics
from stance.tracking.tracker import Tracker


def test_metrics_reported_during_a_run_are_logged_to_it_as_steps_and_only_then(tmp_path, caplog):
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    tracker = Tracker(uri, "progress", artifact_root=str(tmp_path / "artifacts"))
    with caplog.at_level(logging.INFO), tracker.run("fits") as run:
        report_fit("fold 1")
        for step, loss in ((5, 1.1), (10, 0.7)):
            report_metrics({"loss": loss, "epoch": step / 10, "learning_rate": float("nan")}, step=step)
        report_fit("final")
        report_metrics({"loss": 0.5}, step=3)
    report_metrics({"loss": 9.9}, step=99)  # no run open: goes nowhere
    client = MlflowClient(uri)
    history = client.get_metric_history(run.info.run_id, "fit1/loss")
    assert [(m.step, m.value) for m in history] == [(5, 1.1), (10, 0.7)]
    assert [(m.step, m.value) for m in client.get_metric_history(run.info.run_id, "fit2/loss")] == [(3, 0.5)]
    assert "fit1/learning_rate" not in client.get_run(run.info.run_id).data.metrics  # NaN is not logged
    assert not any(r.getMessage() in ("metrics", "fit fold 1") for r in caplog.records)  # values, not lines


def test_about_ten_progress_lines_an_epoch():
    assert logging_steps(1213, 16) == 7  # 76 steps an epoch
    assert logging_steps(30, 16) == 1
    assert logging_steps(1000, 8, accumulation=4) == 3


@pytest.mark.slow
def test_a_fine_tuning_run_shows_its_loss_on_the_terminal_and_in_the_run(make_cfg, caplog):
    from stance.experiment.engine import train

    with caplog.at_level(logging.INFO, logger="stance"):
        # fp32, so that the fold's own score can be compared with the score the Trainer computed
        result = train(make_cfg("model=finetune", "debug=true", "model.debug.max_steps=2",
                                "model.estimator.mixed_precision=false"))
    lines = [r.getMessage() for r in caplog.records if "fine-tuning" in r.getMessage() and "loss" in r.getMessage()]
    assert lines and "s left" in lines[0] and "step 1/2" in lines[0]
    assert sum("validation" in line and "macro-F1" in line for line in lines) == 2  # one per fold's epoch
    client = MlflowClient(f"sqlite:///{make_cfg.store}/mlflow.db")
    metrics = client.get_run(result.run_id).data.metrics
    # two folds and the final model: three fits, each with its loss by step
    assert {f"fit{k}/loss" for k in (1, 2, 3)} <= set(metrics)
    assert [m.step for m in client.get_metric_history(result.run_id, "fit3/loss")] == [1, 2]
    # each fold's fit scored its held-out statements at the end of its (one, cut short) epoch
    for k, fold in enumerate(result.folds, start=1):
        history = client.get_metric_history(result.run_id, f"fit{k}/val_macro_f1")
        assert [m.step for m in history] == [2]
        assert history[0].value == pytest.approx(fold["macro_f1"])  # the fold's test statements, nothing else
        assert [m.step for m in client.get_metric_history(result.run_id, f"fit{k}/val_loss")] == [2]
    assert not any(name.startswith("fit3/val_") for name in metrics)  # the final model has no held-out statements
