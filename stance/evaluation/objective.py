"""The headline objective: which cross-validated metric ranks runs, and in which direction.

One ``objective`` node in the config (``objective.metric``, ``objective.direction``) is read
by every place that ranks runs: the value a Hydra search optimises, the registry's choice of
a champion, the leaderboard's order and the experiment pages. An experiment that changes it
(TweetEval reports ``f_avg``) changes all of them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from stance.errors import StanceError
from stance.evaluation.metrics import HEADLINE

DIRECTIONS = ("maximize", "minimize")
#: Per-fold metrics whose plain name means their mean over folds (each fold's value is logged
#: as a step under the plain name, and MLflow shows only the last).
PER_FOLD = HEADLINE


@dataclass(frozen=True)
class Objective:
    metric: str = "macro_f1"  #: macro_f1, f_avg, accuracy (their mean over folds), or any logged metric
    direction: str = "maximize"
    #: rank on an external yardstick (``dev``: ``dev_macro_f1``, the model trained on all the statements)
    #: instead of the cross-validation's fold mean; runs without it fall back to the fold mean
    yardstick: str | None = None

    def __post_init__(self) -> None:
        if self.direction not in DIRECTIONS:
            raise StanceError(f"objective.direction must be one of {', '.join(DIRECTIONS)}, not '{self.direction}'")

    @classmethod
    def from_config(cls, cfg: Any) -> Objective:
        node = cfg.get("objective") if cfg is not None else None
        if node is None:
            return cls()
        return cls(str(node.metric), str(node.direction), node.get("yardstick") or None)

    @property
    def key(self) -> str:
        """The logged metric that ranks: ``<yardstick>_<metric>`` on an external yardstick,
        ``<metric>_mean`` for a per-fold headline metric, else the name as given."""
        if self.yardstick:
            return f"{self.yardstick}_{self.metric}"
        return f"{self.metric}_mean" if self.metric in PER_FOLD else self.metric

    @property
    def ci(self) -> tuple[str, str]:
        """The logged bounds of the ranking score's 95% CI."""
        stem = self.key.removesuffix("_mean")
        return f"{stem}_ci_low", f"{stem}_ci_high"

    @property
    def predictions(self) -> str:
        """The run artifact whose predictions the paired tests compare (the out-of-fold ones:
        ``oof_predictions.csv``, :data:`stance.tracking.OOF_PREDICTIONS`)."""
        from stance.evaluation.yardstick import predictions_artifact

        return predictions_artifact(self.yardstick or "oof")

    @property
    def label(self) -> str:
        """How tables name the ranking score (``dev macro_f1``, ``macro_f1``)."""
        return f"{self.yardstick} {self.base}" if self.yardstick else self.base

    def cross_validated(self) -> Objective:
        """The same metric as the mean over folds (the fallback without the external yardstick)."""
        return replace(self, yardstick=None)

    def for_runs(self, metrics: list[dict[str, float]]) -> Objective:
        """This objective, or its cross-validated fallback when no run has the yardstick's score
        (the yardstick was absent when they ran)."""
        if self.yardstick and not any(self.key in m for m in metrics):
            return self.cross_validated()
        return self

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
