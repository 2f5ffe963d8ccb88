"""A report's files and headline numbers as an MLflow run (``stance report --log``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

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
    return Tracker(tracking_uri, experiment).log_files_run(name, "report", files, params, metrics)
