"""How a run builds its classifiers: the model's parameters checked and resolved once, then a fresh
estimator per fold (and for the final model) from the same plain data."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class EstimatorFactory:
    """The model's parameters, checked and turned into plain data once per run; each call
    builds a fresh, unfitted classifier from them (one per fold, and the final model)."""

    params: dict

    def __call__(self):
        import copy

        return instantiate_node(copy.deepcopy(self.params), "model.estimator")

    @property
    def family(self) -> str:
        """The model family: the class attribute, or, where the family depends on the parameters (an
        ensemble takes its member's), read from an unfitted estimator (``__init__`` only stores)."""
        from hydra.utils import get_class

        family = getattr(get_class(self.params["_target_"]), "family", "other")
        return family if isinstance(family, str) else self().family


def estimator_factory(cfg, resolved: dict[str, Any] | None = None) -> EstimatorFactory:
    """Check the model's parameters (and its debug settings, applied in debug mode) once: a
    parameter the class does not take, or of the wrong type, is one line here, before any fold.
    ``resolved`` is the run's config already turned into plain data (:func:`_resolved_config`)."""
    from stance.experiment.params import check_estimator, check_model

    if resolved is None:
        from omegaconf import OmegaConf

        check_estimator(cfg)
        model = OmegaConf.to_container(cfg.model, resolve=True)
    else:
        model = resolved["model"]
        check_model(model["estimator"], model.get("debug"))
    params = dict(model["estimator"])
    if cfg.get("debug") and model.get("debug"):
        params.update(model["debug"])
    return EstimatorFactory(params)


def make_estimator(cfg):
    """A fresh, unfitted classifier from ``cfg.model.estimator`` (with debug settings in debug)."""
    return estimator_factory(cfg)()


def instantiate_node(node, what: str):
    """``hydra.utils.instantiate``, with a user error from inside kept as one clear line."""
    from hydra.errors import InstantiationException
    from hydra.utils import instantiate

    from stance.errors import StanceError

    try:
        return instantiate(node)
    except InstantiationException as exc:
        cause = exc.__cause__
        while cause is not None and not isinstance(cause, StanceError):
            cause = cause.__cause__
        if cause is not None:
            raise cause from None
        raise StanceError(f"{what}: {str(exc).strip().splitlines()[-1]}") from None
