"""MLflow tracking: the only part of the package that imports mlflow.

- :mod:`stance.tracking.tracker`: :class:`Tracker` (one store and experiment, runs that always
  end with a true status), run tags and artifact names;
- :mod:`stance.tracking.registry`: the Model Registry (register, champion, load by URI);
- :mod:`stance.tracking.callbacks`: one parent run per Hydra sweep;
- :mod:`stance.tracking.pyfunc`: a classifier as an MLflow pyfunc model.
"""

from stance.tracking.tracker import (
    CONNECT_TIMEOUT, MAX_PARAM_LENGTH, OOF_PREDICTIONS, TAG_FAMILY, TAG_MODEL, TAG_MODEL_URI,
    TAG_OVERRIDES, TAG_ROLE, TAG_SWEEP, Tracker, fail_fast, fingerprint, flatten, git_commit,
    resolve_uri, run_rows, store_error, sweep_complete,
)

__all__ = [
    "CONNECT_TIMEOUT", "MAX_PARAM_LENGTH", "OOF_PREDICTIONS", "TAG_FAMILY", "TAG_MODEL",
    "TAG_MODEL_URI", "TAG_OVERRIDES", "TAG_ROLE", "TAG_SWEEP", "Tracker", "fail_fast",
    "fingerprint", "flatten", "git_commit", "resolve_uri", "run_rows", "store_error", "sweep_complete",
]
