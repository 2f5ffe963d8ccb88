"""The experiment engine: cross-validate one model on one corpus and record it in MLflow.

``train(cfg)`` is everything ``stance train`` does, callable from Python with a composed
config. It never branches on the model family: every model is built from
``cfg.model.estimator`` and used through the classifier contract.
"""

from __future__ import annotations

import json
import logging
import random
import sys
import time
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from stance.experiment.estimators import EstimatorFactory, estimator_factory, instantiate_node
from stance.labels import LABELS

log = logging.getLogger("stance")


@dataclass
class TrainResult:
    """What a training run produced."""

    name: str
    metrics: dict[str, float]  #: summary across folds (means, std, CIs, timings)
    folds: list[dict[str, Any]]  #: per-fold metrics
    predictions: Any  #: out-of-fold predictions (pandas DataFrame), one row per statement
    model: Any = None  #: the model trained on all the data (or on the fixed train split)
    run_id: str | None = None
    model_uri: str | None = None
    tags: dict[str, str] = field(default_factory=dict)


def seed_everything(seed: int) -> None:
    """Seed Python and NumPy; torch too where it is already loaded (torch models seed
    themselves from their own ``seed`` parameter, which the config ties to ``seed``)."""
    random.seed(seed)
    np.random.seed(seed)
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(seed)


def as_xy(dataset):
    """A Dataset as (DataFrame with text and target, array of label names)."""
    import pandas as pd

    names = dataset.features["label"].names
    X = pd.DataFrame({"text": dataset["text"], "target": dataset["target"]})
    return X, np.array([names[i] for i in dataset["label"]])


def _predict_rows(estimator, dataset, prior_shift: str | None = None) -> dict[str, list]:
    """Predictions for ``dataset`` as columns: gold, predicted, confidence and p_<label>;
    ``prior_shift="em"`` re-weights them to the label mix EM estimates for ``dataset``."""
    from stance.models.base import prior_by_label, proba_by_label
    from stance.evaluation.prior_shift import shift

    X, y = as_xy(dataset)
    full = proba_by_label(estimator, X)
    if prior_shift:
        full = shift(full, prior_by_label(estimator), prior_shift, LABELS)
    return {
        "gold": y.tolist(), "predicted": [LABELS[i] for i in full.argmax(axis=1)],
        "confidence": full.max(axis=1).tolist(),
        **{f"p_{label}": full[:, k].tolist() for k, label in enumerate(LABELS)},
    }


def _fold_predictions(fold, train_data, estimator, fold_index: int, prior_shift: str | None = None):
    """One fold: fit on ``train_data``, predict the test statements, and the out-of-fold rows.

    The fit sees the fold's held-out statements (its validation split where the corpus fixes one,
    else its test statements) through :func:`stance.models.progress.validation`: models that train
    in epochs score them after each epoch for the run's ``fit<N>/val_*`` metrics, selecting nothing."""
    from stance.models.progress import validation

    started = time.perf_counter()
    with validation(*as_xy(fold.validation if fold.validation is not None else fold.test)):
        estimator.fit(*as_xy(train_data))
    fit_seconds = time.perf_counter() - started
    started = time.perf_counter()
    predicted = _predict_rows(estimator, fold.test, prior_shift)
    predict_seconds = time.perf_counter() - started
    rows = {
        "id": fold.test["id"], "group": fold.test["group"], "fold": [fold_index] * len(fold.test),
        "held_out": [fold.name] * len(fold.test), "holder": fold.test["holder"], "target": fold.test["target"],
        "text": fold.test["text"], **predicted,
    }
    timing = {"fit_seconds": fit_seconds, "predict_per_second": len(fold.test) / max(predict_seconds, 1e-9)}
    return rows, timing


def _training_data(train_split, fraction: float, extra, seed: int):
    """Training statements (a stratified share of them), plus any extra corpus; and their own count."""
    from datasets import concatenate_datasets

    from stance.data.splits import subsample

    own = subsample(train_split, fraction, seed)
    if extra is None:
        return own, len(own)
    return concatenate_datasets([own, extra.cast(own.features)]), len(own)


@dataclass
class _Setup:
    """The data side of a run: the corpus pooled, its folds and any extra training corpus."""

    corpus: Any
    everything: Any
    folds: list
    extra: Any
    splitter_name: str
    fraction: float
    prior_shift: str | None = None  # "em": each test fold's probabilities re-weighted to its own label mix
    external: Any = None  # a :class:`stance.evaluation.yardstick.Yardstick`: the final model is scored there too
    cross_validate: bool = True  # False: scored on the external yardstick only (eval.external_only)
    estimators: EstimatorFactory | None = None  # the checked model parameters, shared by every fold


@dataclass
class _CrossValidation:
    """What the folds produced."""

    per_fold: list[dict[str, Any]]
    predictions: Any  # out-of-fold predictions, one row per test statement
    pairs: list[tuple[list[str], list[str]]]  # (gold, predicted) per fold
    estimators: list[Any]
    explanations: dict[str, str] = field(default_factory=dict)  # misclassified id -> its strongest words


def _resolved_config(cfg) -> dict[str, Any]:
    """The config as plain data; a missing mandatory value is a one-line error."""
    from omegaconf import OmegaConf
    from omegaconf.errors import MissingMandatoryValue

    from stance.errors import StanceError

    try:
        return OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)
    except MissingMandatoryValue as exc:
        raise StanceError(f"missing config value '{exc.full_key}' (set it on the command line)") from None


def _prepare(cfg) -> _Setup:
    """Load the corpus, split it into folds (two in debug mode) and load any extra training corpus."""
    from stance.evaluation import yardstick
    from stance.data.splits import pooled
    from stance.errors import StanceError
    from stance.evaluation.prior_shift import METHODS

    if cfg.eval.get("prior_shift") not in (None, *METHODS):
        raise StanceError(f"eval.prior_shift must be null or one of {', '.join(METHODS)}, "
                          f"not '{cfg.eval.prior_shift}'")
    corpus = instantiate_node(cfg.data, "data")
    splitter = instantiate_node(cfg.eval.splitter, "eval.splitter")
    folds = splitter.split(corpus)
    if cfg.get("debug"):
        folds = folds[: cfg.eval.get("debug_folds", 2)]
    extra = pooled(instantiate_node(cfg.extra_train, "extra_train")) if cfg.get("extra_train") else None
    everything = pooled(corpus)
    external, notice = yardstick.load(cfg.get("external"), set(everything["target"]))
    if external is not None and not cfg.eval.get("refit", True):
        external, notice = None, f"external yardstick '{external.name}' skipped: eval.refit is off (it scores the refit)"
    if notice:
        log.info("%s", notice)
    cross_validate = external is None or cfg.model.name not in (cfg.eval.get("external_only") or [])
    return _Setup(corpus, everything, folds, extra, type(splitter).__name__, cfg.eval.get("train_fraction", 1.0),
                  cfg.eval.get("prior_shift"), external, cross_validate)


def _run_tags(cfg, estimators: EstimatorFactory, setup: _Setup, parent_run_id: str | None, overrides) -> dict[str, str]:
    """Tags that say what ran: model, family, version, commit, evaluation, data fingerprint, sweep."""
    from stance import __version__
    from stance.tracking.tags import (
        MAX_PARAM_LENGTH, TAG_EVAL, TAG_EXTRA_TRAIN, TAG_FAMILY, TAG_MODEL, TAG_OVERRIDES, TAG_SWEEP, TAG_VERSION,
    )
    from stance.tracking.provenance import fingerprint, git_commit

    data = setup.everything
    tags = {
        TAG_MODEL: cfg.model.name, TAG_FAMILY: estimators.family, TAG_VERSION: __version__,
        "git_commit": git_commit(cfg.paths.root), TAG_EVAL: setup.splitter_name,
        "dataset_fingerprint": fingerprint(zip(data["id"], data["text"], data["target"], data["label"])),
    }
    if parent_run_id:
        tags[TAG_SWEEP] = parent_run_id
    if overrides:
        tags[TAG_OVERRIDES] = " ".join(overrides)[:MAX_PARAM_LENGTH]
    if setup.extra is not None:
        tags[TAG_EXTRA_TRAIN] = (f"{len(setup.extra)} statements, targets: "
                                      f"{', '.join(sorted(set(setup.extra['target'])))}")
    return tags


def _cross_validate(cfg, setup: _Setup, tracker) -> _CrossValidation:
    """Fit a fresh model per fold, predict its test (and validation) statements, log each fold's metrics."""
    import pandas as pd

    from stance.errors import StanceError
    from stance.evaluation.attribution import explain_errors
    from stance.evaluation.metrics import HEADLINE, expected_calibration_error, fold_metrics

    name = cfg.model.name
    per_fold, tables, pairs, estimators, explained = [], [], [], [], {}
    for k, fold in enumerate(setup.folds):
        train_data, n_train = _training_data(fold.train, setup.fraction, setup.extra, cfg.seed + k)
        if len(set(train_data["label"])) < 2:
            raise StanceError(f"fold {k + 1} (held out {fold.name}): the training data has only one label")
        estimator = setup.estimators()
        rows, timing = _fold_predictions(fold, train_data, estimator, k, setup.prior_shift)
        explained.update(explain_errors(estimator, rows, cfg.report.get("explain_errors", 0)))
        metrics = fold_metrics(rows["gold"], rows["predicted"])
        metrics["ece"] = expected_calibration_error(rows["confidence"], np.equal(rows["gold"], rows["predicted"]))
        metrics.update(timing, n_train=n_train)
        if setup.extra is not None:  # statements added to training only (a transfer corpus, written statements)
            metrics["n_extra"] = len(train_data) - n_train
        if fold.validation is not None:  # model selection looks here, never at the test split
            checked = _predict_rows(estimator, fold.validation, setup.prior_shift)
            validation = fold_metrics(checked["gold"], checked["predicted"])
            metrics.update({f"val_{m}": validation[m] for m in HEADLINE})
        per_fold.append({"fold": k, "held_out": fold.name, **metrics})
        tables.append(pd.DataFrame(rows))
        pairs.append((rows["gold"], rows["predicted"]))
        estimators.append(estimator)
        tracker.log_metrics({m: v for m, v in metrics.items() if isinstance(v, (int, float))}, step=k)
        log.info("%s: fold %d/%d (held out %s, %d statements, trained on %d): macro-F1 %.3f, F_avg %.3f, "
                 "fit %.1f s", name, k + 1, len(setup.folds), fold.name, metrics["n"], len(train_data),
                 metrics["macro_f1"], metrics["f_avg"], timing["fit_seconds"])
    return _CrossValidation(per_fold, pd.concat(tables, ignore_index=True), pairs, estimators, explained)


def _summary(cfg, cv: _CrossValidation) -> dict[str, float]:
    """Means, spreads and bootstrap CIs over folds, timings, and the pooled scores."""
    from stance.evaluation.metrics import HEADLINE, fold_metrics, per_target_scores, summarise, target_key

    per_fold = cv.per_fold
    summary = summarise(per_fold, cv.pairs, n_resamples=cfg.eval.n_bootstrap, confidence=cfg.eval.confidence,
                        seed=cfg.seed)
    # "_mean": the plain names hold each fold's value as steps, and MLflow shows the last one
    summary["fit_seconds_mean"] = float(np.mean([f["fit_seconds"] for f in per_fold]))
    summary["predict_per_second_mean"] = float(np.mean([f["predict_per_second"] for f in per_fold]))
    for key in ("ece", "n_train", "n_extra", *(f"val_{m}" for m in HEADLINE)):
        if key in per_fold[0]:
            summary[f"{key}_mean"] = float(np.mean([f[key] for f in per_fold]))
    pooled_metrics = fold_metrics(cv.predictions["gold"], cv.predictions["predicted"])
    summary.update({f"pooled_{m}": pooled_metrics[m] for m in ("macro_f1", "f_avg", "accuracy")})
    by_target = per_target_scores(cv.predictions["target"], cv.predictions["gold"], cv.predictions["predicted"])
    if len(by_target) > 1:  # multi-target corpora: each target's pooled scores ("target_<name>_<metric>")
        summary.update({f"target_{target_key(t)}_{m}": s[m] for t, s in by_target.items()
                        for m in (*HEADLINE, "n")})
    summary["n_folds"] = float(len(per_fold))
    return summary


def _log_evaluation(tracker, name: str, cv: _CrossValidation) -> None:
    """The out-of-fold predictions, per-fold metrics, report, error analysis and confusion matrix."""
    import pandas as pd

    from stance.evaluation.error_analysis import errors_markdown, misclassified
    from stance.evaluation.metrics import classification_report, fold_metrics
    from stance.plots import confusion_figure
    from stance.tracking.tags import OOF_PREDICTIONS

    predictions = cv.predictions
    tracker.log_frame(predictions, OOF_PREDICTIONS)
    tracker.log_frame(pd.DataFrame([{**f, "confusion": json.dumps(f["confusion"])} for f in cv.per_fold]),
                      "fold_metrics.csv")
    tracker.log_text(classification_report(predictions["gold"], predictions["predicted"]),
                     "classification_report.txt")
    errors = misclassified(predictions, cv.explanations)
    tracker.log_frame(errors, "errors.csv")
    tracker.log_text(errors_markdown(errors, title=f"{name}: misclassified statements"), "errors.md")
    pooled_confusion = fold_metrics(predictions["gold"], predictions["predicted"])["confusion"]
    tracker.log_figure(confusion_figure(pooled_confusion, LABELS, title=name), "confusion_matrix.png")


def _refit(cfg, setup: _Setup, cv: _CrossValidation, tracker):
    """The final model (fit on all the data; with fixed splits, the evaluated one), logged as a
    pyfunc model: ``(model, model URI)``, or ``(None, None)`` when ``eval.refit`` is off."""
    if not cfg.eval.get("refit", True):
        return None, None
    if cv is not None and len(setup.folds) == 1:
        final = cv.estimators[0]
    else:
        training = _training_data(setup.everything, setup.fraction, setup.extra, cfg.seed)[0]
        final = setup.estimators().fit(*as_xy(training))
    example = as_xy(setup.everything.select(range(min(2, len(setup.everything)))))[0]
    return final, tracker.log_model(final, example)


def train(cfg, parent_run_id: str | None = None, overrides: list[str] | tuple[str, ...] = ()) -> TrainResult:
    """Cross-validate ``cfg.model`` on ``cfg.data`` with ``cfg.eval``; log everything to MLflow.

    ``parent_run_id`` nests the run under a sweep's parent run; ``overrides`` (the job's
    command-line overrides) are recorded so that ``stance compare`` can name the variant.
    Every check that can fail on the user's input runs before the first fold.
    """
    from omegaconf import OmegaConf

    from stance.tracking.tracker import Tracker

    resolved = _resolved_config(cfg)  # a missing value fails here
    seed_everything(cfg.seed)
    name = cfg.model.name
    estimators = estimator_factory(cfg, resolved)  # a bad model parameter fails here, once for the run
    tracker = Tracker.from_config(cfg)
    tracker.connect()  # an unreachable store fails here
    setup = replace(_prepare(cfg), estimators=estimators)
    tags = _run_tags(cfg, estimators, setup, parent_run_id, overrides)
    log.info("%s: %d statements, %d folds (%s), tracking to %s", name, len(setup.everything), len(setup.folds),
             setup.splitter_name, tracker.uri)

    with tracker.run(name, tags=tags, parent_run_id=parent_run_id) as run:
        tracker.log_config(resolved, OmegaConf.to_yaml(cfg, resolve=True))
        cv, summary = None, {}
        if setup.cross_validate:
            cv = _cross_validate(cfg, setup, tracker)
            summary = _summary(cfg, cv)
            tracker.log_metrics(summary)
            _log_evaluation(tracker, name, cv)
            log.info("%s: macro-F1 %.3f [%.3f, %.3f], F_avg %.3f, accuracy %.3f (run %s)", name,
                     summary["macro_f1_mean"], summary["macro_f1_ci_low"], summary["macro_f1_ci_high"],
                     summary["f_avg_mean"], summary["accuracy_mean"], run.info.run_id)
        else:
            log.info("%s: not cross-validated (eval.external_only): trained once on all %d statements", name,
                     len(setup.everything) + (len(setup.extra) if setup.extra is not None else 0))
        started = time.perf_counter()
        final, model_uri = _refit(cfg, setup, cv, tracker)
        if final is not None:  # timings are logged, not returned: the same config returns the same metrics
            tracker.log_metrics({"refit_seconds": time.perf_counter() - started})
        if setup.external is not None and final is not None:
            summary.update(_score_external(cfg, setup.external, final, tracker))
        return TrainResult(name=name, metrics=summary, folds=cv.per_fold if cv else [],
                           predictions=cv.predictions if cv else None, model=final,
                           run_id=run.info.run_id, model_uri=model_uri, tags=tags)


def _score_external(cfg, external, final, tracker) -> dict[str, float]:
    """The final model's scores on the external yardstick, logged with its predictions (no texts)."""
    from stance.evaluation import yardstick

    started = time.perf_counter()
    metrics, frame = yardstick.score(_predict_rows(final, external.data), external, cfg.eval.n_bootstrap,
                                     cfg.eval.confidence, cfg.seed)
    tracker.log_metrics({**metrics, f"{external.name}_predict_seconds": time.perf_counter() - started})
    tracker.log_frame(frame, yardstick.predictions_artifact(external.name))
    n = external.name
    log.info("%s: on %s (%d statements, %d pages): macro-F1 %.3f [%.3f, %.3f], neutral recall %.3f",
             cfg.model.name, n, metrics[f"{n}_n"], metrics[f"{n}_pages"], metrics[f"{n}_macro_f1"],
             metrics[f"{n}_macro_f1_ci_low"], metrics[f"{n}_macro_f1_ci_high"], metrics[f"{n}_recall_neutral"])
    return metrics
