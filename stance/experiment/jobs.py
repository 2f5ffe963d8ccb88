"""Process set-up shared by the entry points: quiet libraries, the Hydra job's facts (its sweep's
parent run, its overrides) and closing sweeps that stopped early. Nothing here runs at import."""

from __future__ import annotations

import sys
from pathlib import Path

#: Where a sweep's parent run id is written (in the sweep folder) for its jobs to find.
PARENT_RUN_FILE = ".mlflow_parent_run_id"

#: Library progress bars and chatter that drown our per-fold progress lines (set only if unset).
QUIET = {
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "HF_DATASETS_DISABLE_PROGRESS_BARS": "1",
    "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
}


def quiet_libraries() -> None:
    """Silence library progress bars and known-harmless warnings (call from an entry point)."""
    import os
    import warnings

    for name, value in QUIET.items():
        os.environ.setdefault(name, value)
    warnings.filterwarnings("ignore", message=".*'pin_memory' argument is set as true.*")
    warnings.filterwarnings("ignore", module="mlflow.models.utils")
    warnings.filterwarnings("ignore", message=".*Add type hints to the `predict` method.*")


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


def close_sweeps(status: str) -> None:
    """End the parent runs of sweeps that stopped before Hydra's end-of-sweep callback.

    Only sweeps this process started can be open, and then the callback module is loaded:
    a process that ran no sweep never imports MLflow here."""
    callbacks = sys.modules.get("stance.experiment.sweep")
    if callbacks is not None:
        callbacks.SweepParentRun.close_unfinished(status)
