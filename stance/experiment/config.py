"""Typed config schema, where the configs live, and composition from Python.

The schema is registered in Hydra's ConfigStore by :func:`register_configs` (called by the
entry points, never at import), so that a misspelt key or a wrongly typed value fails at
composition. Named experiments (``experiments/*.yaml``) are registered as the
``experiment`` group: ``stance train +experiment=NAME``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from omegaconf import MISSING

from stance.tracking.store import CHAMPION_ALIAS, REGISTERED_MODEL

PACKAGE_ROOT = Path(__file__).resolve().parents[2]
@dataclass
class ModelSchema:
    name: str = MISSING
    pretrained: Optional[str] = None  # encoder weights for models that use one (folder or hub id)
    device: str = "auto"  # models with an encoder: auto (CUDA GPU when present), cpu, cuda, cuda:N
    estimator: Any = MISSING  # {_target_: class, **parameters}
    debug: dict[str, Any] = field(default_factory=dict)  # parameter overrides in debug mode


@dataclass
class EvalSchema:
    splitter: Any = MISSING  # {_target_: splitter class, **parameters}
    n_bootstrap: int = 1000
    confidence: float = 0.95
    debug_folds: int = 2
    train_fraction: float = 1.0  # share of each training fold used (stratified, seeded): learning curves
    refit: bool = True  # train a final model on all the data and log it (false: evaluate only)
    prior_shift: Optional[str] = None  # em: re-weight each test fold's probabilities to its label mix (EM)
    # models (by name) scored on the external yardstick only, without cross-validation, when it is
    # present: their folds take too long for this experiment (with the yardstick absent they are folded)
    external_only: list[str] = field(default_factory=list)


@dataclass
class TrackingSchema:
    uri: str = MISSING
    artifact_root: Optional[str] = None
    study_storage: Optional[str] = None  # database of the Optuna searches' studies (null: in memory, not resumable)


@dataclass
class ObjectiveSchema:
    """The headline metric (mean over folds) and its direction: the search's objective, the
    registry's champion, the leaderboard's order (see :mod:`stance.evaluation.objective`)."""

    metric: str = "macro_f1"  # macro_f1, f_avg, accuracy, or any logged *_mean metric
    direction: str = "maximize"  # or minimize
    yardstick: Optional[str] = None  # dev: rank by the external yardstick's score (fold mean when it is absent)


@dataclass
class RegistrySchema:
    register_best: bool = False  # at the end of a sweep, register its best run's model (by the objective)
    only_if_better: bool = False  # ... only if it beats the current champion on the same statements
    name: str = REGISTERED_MODEL
    alias: str = CHAMPION_ALIAS
    lean: bool = True  # also build the model's lean artefact (ONNX encoder, plain arrays) for fast prediction


@dataclass
class ReportSchema:
    """How ``stance compare`` shows an experiment's runs (ranked by the objective)."""

    select_by: Optional[str] = None  # e.g. val_f_avg: keep each model's best run on validation data
    n_resamples: int = 10000  # approximate randomisation shuffles (the bootstrap uses eval.n_bootstrap)
    all_runs: bool = False  # compare every run of the experiment (several sweeps), not only the latest sweep
    published: dict[str, float] = field(default_factory=dict)  # published scores to show beside ours
    curve: str = "eval.train_fraction"  # the override whose values are a learning curve's points
    curve_x: str = "n_train_mean"  # the metric on its x axis (n_extra_mean: extra training statements)
    reference: Optional[str] = None  # e.g. extra_train.sample=0: also test each run against that setting
    against: Optional[str] = None  # e.g. model-zoo: add that MLflow experiment's best run (the CPU champion's sweep)
    explain_errors: int = 20  # misclassified statements per fold whose strongest words errors.md shows (0: off)


@dataclass
class ExternalSchema:
    """An external yardstick: labelled real text from other sources, scored only (stance.evaluation.yardstick)."""

    name: str = "dev"  # the prefix of its metrics (dev_macro_f1) and artifact (dev_predictions.csv)
    path: Optional[str] = None  # a JSONL/CSV file with id, text, target, label (absent: skipped, one line)
    group_column: Optional[str] = None  # e.g. url: its CIs resample whole pages


@dataclass
class PathsSchema:
    root: str = "."


@dataclass
class StanceSchema:
    data: Any = MISSING
    extra_train: Any = None  # a second corpus added to every training fold (never tested on): transfer
    external: Optional[ExternalSchema] = None  # a second yardstick: the model trained on all data, scored there
    model: ModelSchema = MISSING
    eval: EvalSchema = MISSING
    tracking: TrackingSchema = MISSING
    seed: int = 13
    debug: bool = False
    experiment_name: str = "foreign-troops"
    paths: PathsSchema = field(default_factory=PathsSchema)
    objective: ObjectiveSchema = field(default_factory=ObjectiveSchema)
    registry: RegistrySchema = field(default_factory=RegistrySchema)
    report: ReportSchema = field(default_factory=ReportSchema)


def config_dir() -> Path:
    """The ``conf/`` folder: ``$STANCE_CONFIG_DIR``, else ``./conf``, else the project's own."""
    if os.environ.get("STANCE_CONFIG_DIR"):
        return Path(os.environ["STANCE_CONFIG_DIR"]).resolve()
    if (Path.cwd() / "conf" / "config.yaml").is_file():
        return (Path.cwd() / "conf").resolve()
    return PACKAGE_ROOT / "conf"


def experiments_dir(conf: Path | None = None) -> Path:
    """``experiments/`` beside the ``conf/`` folder."""
    return (conf or config_dir()).parent / "experiments"


def register_configs(experiments: Path | None = None) -> None:
    """Store the schema and the named experiments in Hydra's ConfigStore (idempotent)."""
    from hydra.core.config_store import ConfigStore
    from omegaconf import OmegaConf

    store = ConfigStore.instance()
    store.store(name="stance_schema", node=StanceSchema)
    folder = experiments or experiments_dir()
    for path in sorted(folder.glob("*.yaml")) if folder.is_dir() else []:
        store.store(group="experiment", name=path.stem, node=OmegaConf.load(path), package="_global_")


def compose(overrides: list[str] | None = None, conf: Path | None = None):
    """The composed config, as ``stance train OVERRIDES`` would see it (for Python use); the
    estimator's parameters are checked against its class (:mod:`stance.experiment.params`)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    from stance.experiment.params import check_estimator

    conf = conf or config_dir()
    register_configs(experiments_dir(conf))
    with initialize_config_dir(config_dir=str(conf), version_base="1.3"):
        cfg = hydra_compose(config_name="config", overrides=list(overrides or []))
    check_estimator(cfg)
    return cfg
