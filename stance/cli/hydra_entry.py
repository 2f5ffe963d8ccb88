"""``stance train`` / ``python -m stance.cli.hydra_entry``: the Hydra entry point. It only parses, calls
:func:`stance.experiment.engine.train` and prints; the work is in the engine."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> None:
    from stance.experiment.jobs import quiet_libraries

    quiet_libraries()
    import hydra

    from stance.experiment.config import config_dir, experiments_dir, register_configs
    from stance.errors import StanceError
    from stance.experiment.interrupts import exit_code, interrupts_raise
    from stance.experiment.jobs import close_sweeps, job_overrides, parent_run_id

    conf = config_dir()
    register_configs(experiments_dir(conf))

    @hydra.main(version_base="1.3", config_path=str(conf), config_name="config")
    def run(cfg) -> float:
        from stance.experiment.engine import train
        from stance.evaluation.objective import Objective

        try:
            with interrupts_raise():  # also in launcher workers, where main() does not run
                result = train(cfg, parent_run_id=parent_run_id(), overrides=job_overrides())
        except StanceError as exc:
            print(f"error: {exc}", file=sys.stderr)
            sys.exit(2)
        # what a search (Optuna) optimises: the yardstick's score, or the fold mean without it
        return result.metrics.get(Objective.from_config(cfg).for_runs([result.metrics]).key, float("nan"))

    args = list(sys.argv[1:] if argv is None else argv)
    # Hydra's parser wants -m before the overrides; accept it anywhere
    flags = [a for a in args if a in ("-m", "--multirun")]
    sys.argv = [sys.argv[0], *flags, *(a for a in args if a not in flags)]
    try:
        with interrupts_raise():
            run()
    except KeyboardInterrupt as exc:  # Ctrl-C or SIGTERM: the runs are already ended KILLED
        close_sweeps("KILLED")
        print(f"error: {exc or 'interrupted'}", file=sys.stderr)
        sys.exit(exit_code(exc))
    finally:  # a sweep that stopped early (a job failed): its parent run must not stay RUNNING
        close_sweeps("FAILED")


if __name__ == "__main__":
    main()
