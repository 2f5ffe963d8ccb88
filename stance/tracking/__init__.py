"""MLflow tracking: the only part of the package that imports mlflow, and only an adapter to it.

- :mod:`stance.tracking.tracker`: :class:`~stance.tracking.tracker.Tracker` (one store and
  experiment, runs that always end with a true status) and the rows reports read from runs;
- :mod:`stance.tracking.store`: which store a command uses, the champion's URI, and why a store
  cannot be used (no MLflow import: the light prediction path reads it);
- :mod:`stance.tracking.tags` and :mod:`stance.tracking.provenance`: tag names, and what a run
  records about where it came from;
- :mod:`stance.tracking.registry`: the Model Registry (register, champion, load by URI);
- :mod:`stance.tracking.liveness`: runs whose process is gone;
- :mod:`stance.tracking.pyfunc`: a classifier as an MLflow pyfunc model.

Import from the submodules: this face imports nothing, so importing one submodule never loads
MLflow through another.
"""
