"""Hydra callback: one MLflow parent run per sweep, so the UI shows a sweep's runs together.

A Hydra multirun does not make parent/child runs by itself. ``on_multirun_start`` creates
the parent run and writes its id into the sweep folder, where every job (in this process
or another) finds it; ``on_multirun_end`` closes it and prints the leaderboard.

Hydra calls no callback when a sweep stops early (a job failed, Ctrl-C, SIGTERM), so the
entry point calls :meth:`SweepParentRun.close_unfinished`: the parent run and any job run
left RUNNING (a worker killed with its launcher) end with a true status, never RUNNING.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, ClassVar

from hydra.experimental.callback import Callback

from stance.errors import StanceError
from stance.evaluation.objective import Objective
from stance.tracking.tags import MAX_PARAM_LENGTH, TAG_OVERRIDES
from stance.tracking.tracker import Tracker, run_rows


class SweepParentRun(Callback):
    #: Parent runs of sweeps started in this process and not yet ended, by run id.
    unfinished: ClassVar[dict[str, Tracker]] = {}

    def __init__(self) -> None:
        self.run_id: str | None = None

    def on_multirun_start(self, config, **kwargs: Any) -> None:
        from stance.experiment.jobs import PARENT_RUN_FILE

        from stance.experiment.params import check_sweep

        overrides = " ".join(config.hydra.overrides.task)
        try:  # every job's parameters, then the store and the experiment, before any job starts
            check_sweep(config)
            tracker = Tracker.from_config(config)
            self.run_id = tracker.start_parent(f"sweep: {overrides or config.experiment_name}",
                                               tags={TAG_OVERRIDES: overrides[:MAX_PARAM_LENGTH]})
        except StanceError as exc:  # e.g. an unreachable server: one line, before any job starts
            print(f"error: {exc}", file=sys.stderr)
            sys.exit(2)
        self.unfinished[self.run_id] = tracker
        sweep_dir = Path(config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        (sweep_dir / PARENT_RUN_FILE).write_text(self.run_id)

    def on_multirun_end(self, config, **kwargs: Any) -> None:
        from stance.experiment.compare import compare_experiment
        from stance.experiment.leaderboard import print_status, print_table

        if self.run_id is None:
            return
        tracker = Tracker.from_config(config)
        children = tracker.child_runs(self.run_id)
        ok = bool(children) and all(run.info.status == "FINISHED" for run in children)
        tracker.mark_complete(self.run_id)
        tracker.end_parent(self.run_id, "FINISHED" if ok else "FAILED")
        self.unfinished.pop(self.run_id, None)
        title = f"{config.experiment_name}: {len(children)} runs (sweep {self.run_id})"
        try:  # the leaderboard with each run tested against the best
            print_table(compare_experiment(config, sweep=self.run_id), title=title)
        except StanceError:  # no finished run to compare: the plain table shows what happened
            print_status(run_rows(children), title=title, objective=Objective.from_config(config))
        registry = config.get("registry")
        if ok and registry is not None and registry.register_best:
            register_best(config, tracker, self.run_id)
        print(f"\nOpen the runs: mlflow ui --backend-store-uri {tracker.uri}")

    @classmethod
    def close_unfinished(cls, status: str) -> None:
        """End the sweeps that stopped before ``on_multirun_end``: their job runs still
        RUNNING as KILLED, the parent run as ``status`` (FAILED or KILLED)."""
        while cls.unfinished:
            run_id, tracker = cls.unfinished.popitem()
            try:
                tracker.end_sweep(run_id, status)
            except Exception as exc:  # the store is gone too: say so, do not hide the first error
                print(f"warning: could not end sweep run {run_id} in {tracker.uri}: {exc}", file=sys.stderr)


def register_best(config, tracker: Tracker, sweep_run_id: str) -> None:
    """Register the sweep's best run as ``registry.name@registry.alias`` (with its lean artefact);
    with ``registry.only_if_better``, only if it beats the current champion on the same statements."""
    from stance.tracking.registry import best_run, challenge, register

    registry, objective = config.registry, Objective.from_config(config)
    best = best_run(tracker.uri, tracker.experiment, objective, parent_run_id=sweep_run_id)
    objective = objective.for_runs([best.data.metrics])  # what best_run ranked by
    if registry.get("only_if_better", False):
        better, reason = challenge(tracker.uri, best, objective, registry.name, registry.alias)
        print(f"\n{reason}")
        if not better:
            return
    print(f"\nRegistered the best run by {objective.key} as "
          f"{register(tracker.uri, best.info.run_id, registry.name, registry.alias)}")
    if registry.get("lean", True):
        from stance.serving.onnx.cache import prepare

        model_uri = f"models:/{registry.name}@{registry.alias}"
        print(prepare(model_uri, tracker.uri))
        _check_copies(config, model_uri, tracker.uri)


def _check_copies(config, model_uri: str, tracking_uri: str) -> None:
    """Print how each reduced-precision copy of the registered model scores on the external yardstick."""
    from stance.evaluation import yardstick
    from stance.experiment.lean_check import check_copies, report
    from stance.serving.predict import load

    model = load(model_uri, tracking_uri, precision="fp32")
    if not model.how.startswith("lean"):
        return
    external, _ = yardstick.load(config.get("external"), {model.model.default_target_})
    if external is None:
        return
    for line in report(external.name, *check_copies(model_uri, tracking_uri, external.data)):
        print(line)
