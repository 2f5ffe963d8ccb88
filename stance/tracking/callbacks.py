"""Hydra callback: one MLflow parent run per sweep, so the UI shows a sweep's runs together.

A Hydra multirun does not make parent/child runs by itself. ``on_multirun_start`` creates
the parent run and writes its id into the sweep folder, where every job (in this process
or another) finds it; ``on_multirun_end`` closes it and prints the leaderboard.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback

from stance.tracking import Tracker, run_rows


class SweepParentRun(Callback):
    def __init__(self) -> None:
        self.run_id: str | None = None

    def on_multirun_start(self, config, **kwargs: Any) -> None:
        from stance.train import PARENT_RUN_FILE

        tracker = Tracker.from_config(config)
        overrides = " ".join(config.hydra.overrides.task)
        self.run_id = tracker.start_parent(f"sweep: {overrides or config.experiment_name}",
                                           tags={"stance.overrides": overrides[:500]})
        sweep_dir = Path(config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        (sweep_dir / PARENT_RUN_FILE).write_text(self.run_id)

    def on_multirun_end(self, config, **kwargs: Any) -> None:
        from stance.report import print_leaderboard

        if self.run_id is None:
            return
        tracker = Tracker.from_config(config)
        children = tracker.child_runs(self.run_id)
        ok = bool(children) and all(run.info.status == "FINISHED" for run in children)
        tracker.end_parent(self.run_id, "FINISHED" if ok else "FAILED")
        title = f"{config.experiment_name}: {len(children)} runs (sweep {self.run_id})"
        from stance.compare import compare_experiment, print_table
        from stance.errors import StanceError

        try:  # the leaderboard with each run tested against the best
            print_table(compare_experiment(config, sweep=self.run_id), title=title)
        except StanceError:  # no finished run to compare: the plain table shows what happened
            print_leaderboard(run_rows(children), title=title)
        registry = config.get("registry")
        if ok and registry is not None and registry.register_best:
            from stance.tracking.registry import best_run, register

            best = best_run(tracker.uri, tracker.experiment, registry.metric, parent_run_id=self.run_id)
            print(f"\nRegistered the best run by {registry.metric} as "
                  f"{register(tracker.uri, best.info.run_id, registry.name, registry.alias)}")
        print(f"\nOpen the runs: mlflow ui --backend-store-uri {tracker.uri}")
