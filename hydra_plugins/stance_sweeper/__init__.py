"""Hydra finds sweepers only in the ``hydra_plugins`` namespace: this is where the project's
Optuna sweeper (:class:`stance.experiment.search.OptunaSweeper`) is made visible to it. Nothing
else lives here."""

from stance.experiment.search import OptunaSweeper

__all__ = ["OptunaSweeper"]
