"""The headline objective: which cross-validated metric ranks runs, and in which direction.

One ``objective`` node in the config (``objective.metric``, ``objective.direction``) is read
by every place that ranks runs: the value a Hydra search optimises, the registry's choice of
a champion, the leaderboard's order and the experiment pages. An experiment that changes it
(TweetEval reports ``f_avg``) changes all of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from stance.errors import StanceError

DIRECTIONS = ("maximize", "minimize")
#: Per-fold metrics whose plain name means their mean over folds (each fold's value is logged
#: as a step under the plain name, and MLflow shows only the last).
PER_FOLD = ("macro_f1", "f_avg", "accuracy")


@dataclass(frozen=True)
class Objective:
    metric: str = "macro_f1"  #: macro_f1, f_avg, accuracy (their mean over folds), or any logged metric
    direction: str = "maximize"

    def __post_init__(self) -> None:
        if self.direction not in DIRECTIONS:
            raise StanceError(f"objective.direction must be one of {', '.join(DIRECTIONS)}, not '{self.direction}'")

    @classmethod
    def from_config(cls, cfg: Any) -> Objective:
        node = cfg.get("objective") if cfg is not None else None
        return cls(str(node.metric), str(node.direction)) if node is not None else cls()

    @property
    def key(self) -> str:
        """The logged metric that ranks: ``<metric>_mean`` for a per-fold headline metric, else the name as given."""
        return f"{self.metric}_mean" if self.metric in PER_FOLD else self.metric

    @property
    def base(self) -> str:
        """The per-fold metric name, without ``_mean``."""
        return self.metric.removesuffix("_mean")

    def sign(self) -> int:
        return 1 if self.direction == "maximize" else -1

    def rank_key(self, metrics: dict[str, float]) -> float:
        """Sort key: ascending order of this key puts the best first."""
        return -self.sign() * metrics[self.key]

    def best(self, items: list, metrics=lambda item: item) -> Any:
        """The item whose metrics (``metrics(item)``) score best."""
        return min(items, key=lambda item: self.rank_key(metrics(item)))
