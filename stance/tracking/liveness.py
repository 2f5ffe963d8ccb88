"""No run left RUNNING: each run records which process owns it, and a run whose process is
gone (``kill -9``, a crash, a lost machine) is marked FAILED by the next command that opens
the store, or by ``stance runs cleanup``.

A run is owned by a host, a process id and that process's start time (so a recycled pid is
not mistaken for the owner). Runs owned by another host are left alone: their process
cannot be checked from here.
"""

from __future__ import annotations

import os
import socket

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

TAG_HOST, TAG_PID, TAG_PID_START = "stance.host", "stance.pid", "stance.pid_start"
TAG_END_REASON = "stance.end_reason"


def _start_time(pid: int) -> str:
    """The process's start time in clock ticks since boot (Linux), or '' where unknown."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            return handle.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def owner_tags() -> dict[str, str]:
    """Tags naming this process as the owner of a run."""
    pid = os.getpid()
    return {TAG_HOST: socket.gethostname(), TAG_PID: str(pid), TAG_PID_START: _start_time(pid)}


def alive(pid: int, start: str) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        pass
    return not start or not _start_time(pid) or _start_time(pid) == start


def reap(client: MlflowClient, experiment_ids: list[str] | None = None) -> list[str]:
    """Mark the RUNNING runs whose owning process on this host is gone as FAILED, with a tag
    saying why; returns their ids."""
    if experiment_ids is None:
        experiment_ids = [e.experiment_id for e in client.search_experiments()]
    if not experiment_ids:
        return []
    host = socket.gethostname()
    query = f"attributes.status = 'RUNNING' and tags.`{TAG_HOST}` = '{host}'"
    reaped = []
    for run in client.search_runs(experiment_ids, filter_string=query, max_results=10000):
        tags = run.data.tags
        try:
            pid = int(tags.get(TAG_PID, ""))
        except ValueError:
            continue
        if alive(pid, tags.get(TAG_PID_START, "")):
            continue
        try:
            client.set_tag(run.info.run_id, TAG_END_REASON, f"process {pid} on {host} ended without closing the run")
            client.set_terminated(run.info.run_id, "FAILED")
        except MlflowException:
            if _reaped_elsewhere(client, run.info.run_id):
                continue
            raise
        reaped.append(run.info.run_id)
    return reaped


def _reaped_elsewhere(client: MlflowClient, run_id: str) -> bool:
    """Whether another process is marking this run (two commands opened the store together and
    both found it): its end reason is already set or the run has ended. The one that set the
    tag first marks it FAILED; this one leaves it alone."""
    run = client.get_run(run_id)
    return TAG_END_REASON in run.data.tags or run.info.status != "RUNNING"
