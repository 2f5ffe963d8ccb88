"""Estimator parameters checked against the class they configure, before anything trains.

A model's YAML names a class (``_target_``) and its parameters. The class's ``__init__``
signature (scikit-learn's contract: every parameter is a keyword with a typed default) is
the schema: :func:`check_estimator` rejects a parameter the class does not take and a value
of the wrong type, with one line naming the config key, e.g.::

    model.estimator.C: expected a number, got 'abc' (stance.models.TfidfClassifier)

:func:`stance.experiment.config.compose` and :func:`stance.experiment.engine.train` call it, so ``stance train
model.estimator.C=abc`` fails at composition, before the store is opened or data loaded.
Nested estimators (a ``_target_`` inside a parameter, as in stacking) are checked too.
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Mapping
from typing import Any

from stance.errors import StanceError

#: Hydra's instantiation keys, not parameters of the class.
HYDRA_KEYS = frozenset({"_target_", "_convert_", "_recursive_", "_partial_", "_args_"})


class ParameterError(StanceError):
    """An estimator parameter the class does not take, or of the wrong type."""


def _import(target: str, key: str):
    import importlib

    module, _, name = target.rpartition(".")
    try:
        found = getattr(importlib.import_module(module), name) if module else None
    except (ImportError, AttributeError, ValueError):
        found = None
    if not inspect.isclass(found):
        raise ParameterError(f"{key}._target_: cannot import the class '{target}'")
    return found


def _describe(hint: Any) -> str:
    if hint is bool:
        return "true or false"
    if hint in (int, float):
        return "an integer" if hint is int else "a number"
    if hint is str:
        return "a string"
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join("null" if a is type(None) else _describe(a) for a in typing.get_args(hint))
    if origin in (tuple, list):
        args = typing.get_args(hint)
        if origin is tuple and args and Ellipsis not in args and len(set(args)) == 1:
            return f"a list of {len(args)} {_describe(args[0]).removeprefix('a ').removeprefix('an ')}s"
        return f"a list of {_describe(args[0]) if args else 'values'}"
    if origin in (dict, Mapping) or hint is dict:
        return "a mapping"
    return getattr(hint, "__name__", str(hint))


def _fits(value: Any, hint: Any) -> bool:
    """Whether ``value`` (as composed from YAML) is acceptable for the annotation ``hint``."""
    if hint is Any or hint is inspect.Parameter.empty:
        return True
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_fits(value, a) for a in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            return False
        args = typing.get_args(hint)
        if origin is tuple and args and Ellipsis not in args:
            return len(value) == len(args) and all(_fits(v, a) for v, a in zip(value, args))
        return not args or all(_fits(v, args[0]) for v in value)
    if origin in (dict, Mapping) or hint is dict:
        return isinstance(value, Mapping)
    return True  # a type this check does not know: left to the class


def check_params(params: Mapping[str, Any], key: str = "model.estimator") -> None:
    """Check a resolved ``{_target_: class, **parameters}`` mapping (and nested ones)."""
    target = params.get("_target_")
    if not isinstance(target, str):
        raise ParameterError(f"{key}._target_: missing (the class to build, e.g. stance.models.TfidfClassifier)")
    cls = _import(target, key)
    signature = inspect.signature(cls.__init__)
    accepts_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in signature.parameters.values())
    names = [n for n, p in signature.parameters.items() if n != "self"
             and p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)]
    try:
        hints = typing.get_type_hints(cls.__init__)
    except Exception:  # noqa: BLE001 - annotations that do not resolve: check names only
        hints = {}
    for name, value in params.items():
        if name in HYDRA_KEYS:
            continue
        where = f"{key}.{name}"
        if name not in names:
            if accepts_any:
                continue
            raise ParameterError(f"{where}: {target} has no parameter '{name}' (it takes: {', '.join(names)})")
        if isinstance(value, Mapping) and "_target_" in value:
            check_params(value, where)
            continue
        if isinstance(value, Mapping) and all(isinstance(v, Mapping) and "_target_" in v for v in value.values()):
            for member, node in value.items():  # e.g. stacking's members: {name: {_target_: ...}}
                check_params(node, f"{where}.{member}")
            continue
        hint = hints.get(name, inspect.Parameter.empty)
        if not _fits(value, hint):
            raise ParameterError(f"{where}: expected {_describe(hint)}, got {value!r} ({target})")


def check_estimator(cfg) -> None:
    """Check ``cfg.model.estimator``, and the debug overrides ``cfg.model.debug`` against the same class."""
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    try:
        params = OmegaConf.to_container(cfg.model.estimator, resolve=True)
        debug = OmegaConf.to_container(cfg.model.debug, resolve=True) if cfg.model.get("debug") else {}
    except OmegaConfBaseException as exc:
        raise ParameterError(f"model.estimator: {str(exc).splitlines()[0]}") from None
    check_model(params, debug)


def check_model(params: Any, debug: Mapping[str, Any] | None = None) -> None:
    """Check a model's resolved parameters (``{_target_: class, ...}``) and its debug overrides."""
    if not isinstance(params, Mapping):
        raise ParameterError("model.estimator: expected a mapping with a _target_")
    check_params(params)
    if debug:
        check_params({"_target_": params["_target_"], **debug}, "model.debug")


#: A sweep with more jobs than this is checked job by job as it runs, not all up front.
MAX_CHECKED_JOBS = 200


def sweep_jobs(task_overrides: list[str], sweeper_params: Mapping[str, Any] | None = None) -> list[list[str]] | None:
    """Each job's overrides in a Hydra sweep (the command line's and ``hydra.sweeper.params``'
    discrete choices, as the basic sweeper expands them), or None when there are more than
    :data:`MAX_CHECKED_JOBS`. Search-space ranges (``interval``, ``range`` in Optuna) are
    left to each job's own check."""
    import itertools

    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser = OverridesParser.create()
    lines = {line.split("=", 1)[0]: line for line in (f"{k}={v}" for k, v in (sweeper_params or {}).items())}
    lines.update({line.split("=", 1)[0]: line for line in task_overrides})  # the command line wins
    axes = []
    for override in parser.parse_overrides(list(lines.values())):
        key = override.get_key_element()
        if key.lstrip("+~").startswith("hydra"):
            continue
        if not override.is_sweep_override():
            axes.append([override.input_line])
        elif override.is_discrete_sweep():
            axes.append([f"{key}={value}" for value in override.sweep_string_iterator()])
    n = 1
    for axis in axes:
        n *= len(axis)
    return None if n > MAX_CHECKED_JOBS else [list(job) for job in itertools.product(*axes)]


def check_sweep(config) -> None:
    """Inside a Hydra multirun (``config`` is the sweep's config): check every job's estimator
    before the first one starts, so a bad value in the last job does not waste the others."""
    from hydra import compose
    from omegaconf import OmegaConf

    params = config.hydra.sweeper.get("params")
    fixed = set(config.hydra.overrides.task)
    jobs = sweep_jobs(list(config.hydra.overrides.task), OmegaConf.to_container(params) if params else None)
    for number, job in enumerate(jobs or []):
        try:
            cfg = compose(config_name=config.hydra.job.config_name, overrides=job)
        except Exception:  # noqa: BLE001 - a job that does not compose reports it when it runs
            continue
        try:
            check_estimator(cfg)
        except ParameterError as exc:
            swept = " ".join(o for o in job if o not in fixed)  # what sets this job apart
            raise ParameterError(f"job #{number} ({swept}): {exc}") from None
