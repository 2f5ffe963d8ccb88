"""A report's files and headline numbers as an MLflow run (``stance report --log``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import mlflow

from stance.errors import StanceError
from stance.tracking.liveness import owner_tags
from stance.tracking.store import store_error
from stance.tracking.tags import MAX_PARAM_LENGTH, TAG_ROLE
from stance.tracking.tracker import Tracker

#: The experiment reports go to unless told otherwise.
REPORT_EXPERIMENT = "report"


def log_report(tracking_uri: str, files: Sequence[str | Path], params: Mapping[str, object],
               metrics: Mapping[str, float], experiment: str = REPORT_EXPERIMENT, name: str = "report") -> str:
    """Log a report as one finished run (tag ``stance.role=report``) of ``experiment``.

    Parameters
    ----------
    tracking_uri : str
        The MLflow store (created if it is a sqlite file that is not there yet).
    files : sequence of str or Path
        The report's files, logged as artifacts at the run's root.
    params : mapping of str to object
        What the report was made from and with (inputs, views, min_n, seed, ...).
    metrics : mapping of str to float
        Its headline numbers.
    experiment : str, default="report"
    name : str, default="report"
        The run's name.

    Returns
    -------
    str
        The run's id.

    Raises
    ------
    stance.errors.StanceError
        A store that cannot be used or written: one line.
    """
    tracker = Tracker(tracking_uri, experiment)
    experiment_id = tracker.connect()
    client = tracker.client
    try:
        run_id = client.create_run(experiment_id, run_name=name, tags={TAG_ROLE: "report", **owner_tags()}).info.run_id
    except mlflow.exceptions.MlflowException as exc:
        raise StanceError(store_error(tracker.uri, exc)) from None
    try:
        for key, value in params.items():
            client.log_param(run_id, key, str(value)[:MAX_PARAM_LENGTH])
        for key, value in metrics.items():
            client.log_metric(run_id, key, float(value))
        for path in files:
            client.log_artifact(run_id, str(path))
    except BaseException:
        client.set_terminated(run_id, status="FAILED")
        raise
    client.set_terminated(run_id, status="FINISHED")
    return run_id
