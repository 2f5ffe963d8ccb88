"""The connection to an MLflow store: :class:`Tracker`, and the rows reports read from runs.

:class:`Tracker` owns the connection to a store (an embedded sqlite file by default, or a
server) and one experiment; :meth:`Tracker.run` opens a run that ends FINISHED, or FAILED
with the error logged, or KILLED on an interrupt. Runs never inherit a stale
``MLFLOW_RUN_ID`` from the environment.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import mlflow
from mlflow.tracking import MlflowClient

from stance.errors import StanceError
from stance.tracking.provenance import flatten
from stance.tracking.store import fail_fast, read_only_problem, resolve_uri, sqlite_problem, store_error
from stance.tracking.tags import (
    MAX_PARAM_LENGTH, TAG_ERROR, TAG_EVAL, TAG_FAMILY, TAG_MODEL, TAG_MODEL_URI, TAG_OVERRIDES, TAG_ROLE, TAG_SWEEP_COMPLETE,
)
from stance.tracking.liveness import owner_tags, reap
from stance.tracking.training_metrics import listening

log = logging.getLogger(__name__)

def sweep_complete(run) -> bool:
    """Whether a sweep's parent run saw every job end (a killed or running sweep did not)."""
    return run.data.tags.get(TAG_SWEEP_COMPLETE) == "true" or run.info.status == "FINISHED"


def run_rows(runs) -> list[dict[str, Any]]:
    """Plain dicts (run id, status, model, eval, metrics) from MLflow runs, for reports."""
    return [
        {"run_id": run.info.run_id, "status": run.info.status, "name": run.info.run_name,
         "model": run.data.tags.get(TAG_MODEL, run.info.run_name), "eval": run.data.tags.get(TAG_EVAL, ""),
         "family": run.data.tags.get(TAG_FAMILY, ""), "overrides": run.data.tags.get(TAG_OVERRIDES, ""),
         "metrics": dict(run.data.metrics),
         "params": dict(run.data.params)}
        for run in runs
    ]


class Tracker:
    """One MLflow store and experiment."""

    def __init__(self, uri: str, experiment: str, artifact_root: str | None = None):
        self.uri = resolve_uri(uri)
        self.experiment = experiment
        self.artifact_root = artifact_root
        self.read_only = False  #: set by :meth:`connect`: a sqlite store this process cannot write

    @classmethod
    def from_config(cls, cfg) -> "Tracker":
        return cls(cfg.tracking.uri, cfg.experiment_name, cfg.tracking.get("artifact_root"))

    @property
    def client(self) -> MlflowClient:
        return MlflowClient(tracking_uri=self.uri)

    def connect(self, write: bool = True) -> str:
        """Point MLflow at the store and make sure the experiment exists; returns its id.

        ``write`` (the default) also makes sure a sqlite store can be written, before any
        work: a read-only store is one line. ``write=False`` (reading commands) accepts a
        read-only store and leaves runs of dead processes as they are in it.

        An unreachable server is one clear error here, before any training starts, and at
        once: this first request is not retried (unless ``MLFLOW_HTTP_REQUEST_MAX_RETRIES``
        is set) and waits at most ``CONNECT_TIMEOUT`` seconds (or ``MLFLOW_HTTP_REQUEST_TIMEOUT``).
        Later requests keep MLflow's retries with backoff, which ride out a server restart.
        """
        problem = sqlite_problem(self.uri)
        read_only = read_only_problem(self.uri)
        if problem or (write and read_only):
            raise StanceError(problem or read_only)
        self.read_only = bool(read_only)
        mlflow.set_tracking_uri(self.uri)
        try:
            with fail_fast():
                experiment = self.client.get_experiment_by_name(self.experiment)
            if experiment is None and read_only:
                raise StanceError(f"no experiment '{self.experiment}' in {self.uri} (read-only)")
            if experiment is not None and experiment.lifecycle_stage == "deleted":
                raise StanceError(f"experiment '{self.experiment}' is deleted in {self.uri}: restore it "
                                  f"(MLFLOW_TRACKING_URI={self.uri} mlflow experiments restore --experiment-id "
                                  f"{experiment.experiment_id}) or set "
                                  "experiment_name to another name")
            if experiment is not None:
                reaped = [] if read_only else reap(self.client, [experiment.experiment_id])
                if reaped:
                    log.warning("marked %d run(s) whose process is gone as FAILED: %s", len(reaped), ", ".join(reaped))
                return experiment.experiment_id
            location = None
            if self.artifact_root and not self.uri.startswith(("http://", "https://")):
                location = Path(self.artifact_root).resolve().as_uri()
            try:
                return self.client.create_experiment(self.experiment, artifact_location=location)
            except mlflow.exceptions.MlflowException as exc:  # another job created it first
                if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                    raise
                return self.client.get_experiment_by_name(self.experiment).experiment_id
        except mlflow.exceptions.MlflowException as exc:
            raise StanceError(store_error(self.uri, exc)) from None

    @contextlib.contextmanager
    def run(self, name: str, tags: Mapping[str, str] | None = None, parent_run_id: str | None = None) -> Iterator[Any]:
        """An MLflow run that records how it ended: FINISHED, FAILED (error logged) or KILLED."""
        stale = os.environ.pop("MLFLOW_RUN_ID", None)
        if stale:
            log.warning("ignoring MLFLOW_RUN_ID=%s from the environment", stale)
        experiment_id = self.connect()
        while mlflow.active_run() is not None:  # a run left open by a caller must not adopt ours
            mlflow.end_run()
        run = mlflow.start_run(experiment_id=experiment_id, run_name=name, parent_run_id=parent_run_id,
                               tags={**owner_tags(), **dict(tags or {})})
        try:
            with listening(run.info.run_id):
                yield run
        except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM (see stance.experiment.interrupts)
            mlflow.set_tag(TAG_ERROR, str(exc) or "interrupted")
            mlflow.end_run(status="KILLED")
            raise
        except BaseException as exc:
            mlflow.set_tag(TAG_ERROR, f"{type(exc).__name__}: {exc}"[:MAX_PARAM_LENGTH])
            with contextlib.suppress(Exception):
                mlflow.log_text(f"{type(exc).__name__}: {exc}\n", "error.txt")
            mlflow.end_run(status="KILLED" if isinstance(exc, SystemExit) else "FAILED")
            raise
        else:
            mlflow.end_run(status="FINISHED")

    # ------------------------------------------------------------------ logging inside a run
    @staticmethod
    def log_config(config: Mapping[str, Any], yaml_text: str) -> None:
        mlflow.log_params(flatten(config))
        mlflow.log_text(yaml_text, "config.yaml")

    @staticmethod
    def log_metrics(metrics: Mapping[str, float], step: int | None = None) -> None:
        mlflow.log_metrics({k: float(v) for k, v in metrics.items()}, step=step)

    @staticmethod
    def log_text(text: str, name: str) -> None:
        mlflow.log_text(text, name)

    @staticmethod
    def log_figure(figure, name: str) -> None:
        mlflow.log_figure(figure, name)

    @staticmethod
    def log_frame(frame, name: str) -> None:
        with tempfile.TemporaryDirectory() as scratch:
            path = Path(scratch) / name
            frame.to_csv(path, index=False)
            mlflow.log_artifact(str(path))

    @staticmethod
    def log_model(estimator, input_example) -> str:
        """Log a fitted classifier as an MLflow pyfunc model; returns its ``runs:/`` URI."""
        from stance.tracking.pyfunc import log_pyfunc

        uri = log_pyfunc(estimator, input_example)
        mlflow.set_tag(TAG_MODEL_URI, uri)
        return uri

    # ------------------------------------------------------------------ reading back
    def child_runs(self, parent_run_id: str) -> list[Any]:
        experiment = self.client.get_experiment_by_name(self.experiment)
        if experiment is None:
            return []
        return self.client.search_runs([experiment.experiment_id],
                                       filter_string=f"tags.mlflow.parentRunId = '{parent_run_id}'",
                                       max_results=10000)

    def runs(self, filter_string: str = "") -> list[Any]:
        experiment = self.client.get_experiment_by_name(self.experiment)
        if experiment is None:
            raise StanceError(f"no experiment '{self.experiment}' in {self.uri}")
        return self.client.search_runs([experiment.experiment_id], filter_string=filter_string, max_results=10000)

    def sweeps(self) -> list[Any]:
        """The experiment's sweep parent runs, newest first (runs whose process is gone are
        marked FAILED first, so a killed sweep shows as such)."""
        experiment = self.client.get_experiment_by_name(self.experiment)
        if (experiment is not None and not self.read_only
                and (reaped := reap(self.client, [experiment.experiment_id]))):
            log.warning("marked %d run(s) whose process is gone as FAILED: %s", len(reaped), ", ".join(reaped))
        return sorted(self.runs(f"tags.{TAG_ROLE} = 'sweep'"), key=lambda r: -r.info.start_time)

    def sweep(self, run_id: str) -> Any:
        """A sweep's parent run (a clear error if there is none with this id)."""
        try:
            run = self.client.get_run(run_id)
        except mlflow.exceptions.MlflowException:
            raise StanceError(f"no run {run_id} in {self.uri}") from None
        if run.data.tags.get(TAG_ROLE) != "sweep":
            raise StanceError(f"run {run_id} is not a sweep (its parent run id is what --sweep takes)")
        return run

    def result_runs(self, sweep: str | None = None) -> list[Any]:
        """Training runs: one sweep's, or every run that is not a sweep or a comparison."""
        if sweep:
            return self.child_runs(sweep)
        return [r for r in self.runs() if r.data.tags.get(TAG_ROLE) not in ("sweep", "comparison")]

    def load_frame(self, run_id: str, name: str):
        """A CSV artifact of a run as a DataFrame (a clear error if the run has none)."""
        import pandas as pd

        with tempfile.TemporaryDirectory() as scratch:
            try:
                path = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=name, dst_path=scratch,
                                                           tracking_uri=self.uri)
            except (mlflow.exceptions.MlflowException, OSError) as exc:
                raise StanceError(f"run {run_id} has no artifact '{name}': {str(exc).splitlines()[0][:200]}") from None
            return pd.read_csv(path, keep_default_na=False)

    def log_comparison(self, name: str, files: list[Path], params: Mapping[str, str],
                       metrics: Mapping[str, float]) -> str:
        """A run (role ``comparison``) holding a comparison's table and figures; returns its id."""
        return self.log_files_run(name, "comparison", files, params, metrics)

    def log_files_run(self, name: str, role: str, files: Sequence[str | Path], params: Mapping[str, object],
                      metrics: Mapping[str, float]) -> str:
        """One finished run (tag ``stance.role=<role>``) holding files, parameters and headline
        numbers (a comparison, a report); it ends FAILED if logging stops half-way. Returns its id."""
        experiment_id = self.connect()
        client = self.client
        try:
            run_id = client.create_run(experiment_id, run_name=name, tags={TAG_ROLE: role, **owner_tags()}).info.run_id
        except mlflow.exceptions.MlflowException as exc:
            raise StanceError(store_error(self.uri, exc)) from None
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

    def mark_complete(self, run_id: str) -> None:
        """Record that every job of a sweep has ended (finished or failed): its results are final."""
        self.client.set_tag(run_id, TAG_SWEEP_COMPLETE, "true")

    def start_parent(self, name: str, tags: Mapping[str, str]) -> str:
        """Create a parent run for a sweep (left RUNNING until :meth:`end_parent`)."""
        experiment_id = self.connect()
        run = self.client.create_run(experiment_id, run_name=name, tags={TAG_ROLE: "sweep", **owner_tags(), **tags})
        return run.info.run_id

    def end_parent(self, run_id: str, status: str) -> None:
        self.client.set_terminated(run_id, status=status)

    def end_sweep(self, run_id: str, status: str) -> None:
        """End a sweep that stopped early: job runs still RUNNING as KILLED, then the parent."""
        for child in self.child_runs(run_id):
            if child.info.status == "RUNNING":
                self.client.set_tag(child.info.run_id, TAG_ERROR, "its sweep stopped before it ended")
                self.client.set_terminated(child.info.run_id, status="KILLED")
        self.end_parent(run_id, status)
