"""``stance train`` / ``python -m stance.train``: the Hydra entry point. It only parses, calls
:func:`stance.engine.train` and prints; the work is in the engine."""

from __future__ import annotations

import sys
from pathlib import Path

PARENT_RUN_FILE = ".mlflow_parent_run_id"


def parent_run_id() -> str | None:
    """The sweep's parent run (written by the SweepParentRun callback), in a multirun job."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    hydra = HydraConfig.get()
    if hydra.mode != RunMode.MULTIRUN:
        return None
    marker = Path(hydra.sweep.dir) / PARENT_RUN_FILE
    return marker.read_text().strip() if marker.is_file() else None


def job_overrides() -> list[str]:
    """This job's command-line overrides (a sweep job's own choices included)."""
    from hydra.core.hydra_config import HydraConfig

    return list(HydraConfig.get().overrides.task)


#: Library progress bars and chatter that drown our per-fold progress lines (set only if unset).
QUIET = {
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "HF_DATASETS_DISABLE_PROGRESS_BARS": "1",
    "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
}


def quiet_libraries() -> None:
    import os
    import warnings

    for name, value in QUIET.items():
        os.environ.setdefault(name, value)
    warnings.filterwarnings("ignore", message=".*'pin_memory' argument is set as true.*")
    warnings.filterwarnings("ignore", module="mlflow.models.utils")
    warnings.filterwarnings("ignore", message=".*Add type hints to the `predict` method.*")


def close_sweeps(status: str) -> None:
    """End the parent runs of sweeps that stopped before Hydra's end-of-sweep callback."""
    callbacks = sys.modules.get("stance.tracking.callbacks")  # imported by Hydra if a sweep started
    if callbacks is not None:
        callbacks.SweepParentRun.close_unfinished(status)


def main(argv: list[str] | None = None) -> None:
    quiet_libraries()
    import hydra

    from stance.config import config_dir, experiments_dir, register_configs
    from stance.errors import StanceError
    from stance.interrupts import exit_code, interrupts_raise

    conf = config_dir()
    register_configs(experiments_dir(conf))

    @hydra.main(version_base="1.3", config_path=str(conf), config_name="config")
    def run(cfg) -> float:
        from stance.engine import train

        try:
            with interrupts_raise():  # also in launcher workers, where main() does not run
                result = train(cfg, parent_run_id=parent_run_id(), overrides=job_overrides())
        except StanceError as exc:
            print(f"error: {exc}", file=sys.stderr)
            sys.exit(2)
        return result.metrics["macro_f1_mean"]

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
