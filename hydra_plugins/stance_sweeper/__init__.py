"""Hydra finds sweepers only in the ``hydra_plugins`` namespace: this is where the project's
Optuna sweeper (:class:`stance.search.StudySweeper`) is registered. Nothing else lives here."""

from stance.search import StudySweeper


class OptunaSweeper(StudySweeper):
    """``hydra/sweeper=tfidf_search`` and ``finetune_search``: see :mod:`stance.search`."""


__all__ = ["OptunaSweeper"]
