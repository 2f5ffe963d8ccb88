"""``stance compare``: an experiment's runs side by side, with significance tests.

:func:`compare` is pure: given run records (metrics, tags) and their out-of-fold
predictions it ranks the runs by the objective and tests each against the best on the
same statements (approximate randomisation on the headline score, a paired bootstrap CI of
the difference, McNemar's exact test, Holm's adjustment across the comparisons).
:func:`compare_experiment` reads the runs from MLflow; :mod:`stance.experiment.leaderboard` renders
and writes the result.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from stance.errors import StanceError
from stance.evaluation.objective import Objective

#: Overrides that do not distinguish runs within an experiment.
_SILENT = ("+experiment=", "experiment=", "model=", "hydra.", "tracking", "paths.", "debug=")
CURVE_OVERRIDE = "eval.train_fraction"  #: the default x of a learning curve (report.curve)


class NoRuns(StanceError):
    """The experiment has no runs in this store."""


def override_key(override: str) -> str:
    """The config key a command-line override sets (``+experiment=x`` -> ``experiment``)."""
    return override.split("=", 1)[0].lstrip("+~")


@dataclass
class Entry:
    """One run in a comparison."""

    run_id: str
    label: str  #: model name and what else this run's overrides changed
    model: str
    overrides: list[str]
    metrics: dict[str, float]
    status: str = "FINISHED"
    tests: dict[str, Any] = field(default_factory=dict)  #: filled by :func:`compare`

    def variant(self, curve: str = CURVE_OVERRIDE) -> str:
        """The label without the ``curve`` setting: one line of a learning curve."""
        rest = [o for o in self.label.split(" ")[1:] if not o.startswith(f"{curve}=")]
        return " ".join([self.model, *rest])

    def setting(self, key: str) -> str | None:
        """This run's override of ``key`` (e.g. ``extra_train.sample``), or None."""
        return next((o.split("=", 1)[1] for o in self.overrides if override_key(o) == key), None)

    def settings_except(self, key: str) -> list[str]:
        """This run's overrides other than ``key``'s, sorted: what makes it a variant."""
        return sorted(o for o in self.overrides if override_key(o) != key)


@dataclass
class Comparison:
    experiment: str
    metric: str
    entries: list[Entry]  #: finished runs, best first
    failed: list[Entry]
    sweep: str | None = None
    published: dict[str, float] = field(default_factory=dict)
    candidates: list[Entry] = field(default_factory=list)  #: every run model selection chose from
    select_by: str | None = None
    objective: Objective = field(default_factory=Objective)
    curve: str = CURVE_OVERRIDE  #: the override whose values make a learning curve's points
    curve_x: str = "n_train_mean"  #: the metric on a learning curve's x axis
    reference: str | None = None  #: e.g. extra_train.sample=0: each run is also tested against its variant's
    against: str | None = None  #: the label of a run added from another experiment (report.against)
    complete: bool = True  #: False for a sweep still running or stopped early: its table is provisional
    notice: str | None = None  #: what the user should know about the runs chosen (e.g. a newer incomplete sweep)

    @property
    def best(self) -> Entry:
        return self.entries[0]

    @property
    def has_curve(self) -> bool:
        return any(e.setting(self.curve) is not None for e in self.entries)

    @property
    def has_reference(self) -> bool:
        return any("reference" in e.tests for e in self.entries)

    @property
    def has_validation(self) -> bool:
        return any(f"val_{self.metric}_mean" in e.metrics for e in self.entries)

    @property
    def yardsticks(self) -> list[str]:
        """The external yardsticks the runs were scored on (``dev``), from their ``<name>_pages`` metric."""
        return sorted({k.removesuffix("_pages") for e in self.entries for k in e.metrics if k.endswith("_pages")})


def label_of(model: str, overrides: list[str], common: set[str] = frozenset()) -> str:
    """A run's name in a table: its model and the overrides that set it apart from the others."""
    kept = [o.removeprefix("model.estimator.") for o in overrides if not o.startswith(_SILENT) and o not in common]
    return " ".join([model, *kept])


def common_overrides(rows: list[dict[str, Any]]) -> set[str]:
    """Overrides every run shares (the sweep's fixed settings), which do not name a run."""
    sets = [set(row.get("overrides", "").split()) for row in rows]
    return set.intersection(*sets) if len(sets) > 1 else set()


def entries_from(rows: list[dict[str, Any]]) -> list[Entry]:
    """:class:`Entry` objects from :func:`stance.tracking.run_rows` output."""
    common = common_overrides(rows)
    return [Entry(row["run_id"], label_of(row["model"], row.get("overrides", "").split(), common), row["model"],
                  row.get("overrides", "").split(), row["metrics"], row["status"]) for row in rows]


def select_best_per_model(entries: list[Entry], select_by: str, objective: Objective = Objective()) -> list[Entry]:
    """Each model's best run by ``select_by`` (e.g. ``val_f_avg_mean``, in the objective's
    direction): model selection on validation data."""
    chosen: dict[str, Entry] = {}
    for entry in entries:
        if select_by not in entry.metrics:
            raise StanceError(f"run {entry.run_id} ({entry.label}) has no metric '{select_by}' to select by")
        if entry.model not in chosen or (objective.sign() * entry.metrics[select_by]
                                         > objective.sign() * chosen[entry.model].metrics[select_by]):
            chosen[entry.model] = entry
    return list(chosen.values())


def paired_folds(best, other) -> list[tuple[list[str], list[str], list[str]]] | None:
    """Per-fold (gold, best's, other's) predictions, or None if the two runs saw different statements."""
    key = ["id", "fold"]
    if len(best) != len(other) or set(map(tuple, best[key].values)) != set(map(tuple, other[key].values)):
        return None
    merged = best[[*key, "gold", "predicted"]].merge(other[[*key, "predicted"]], on=key, suffixes=("_a", "_b"))
    return [(g["gold"].tolist(), g["predicted_a"].tolist(), g["predicted_b"].tolist())
            for _, g in merged.groupby("fold", sort=True)]


def _paired_tests(better: Entry, other: Entry, folds, objective: Objective, n_resamples: int, n_bootstrap: int,
                  confidence: float, seed: int) -> dict[str, Any]:
    """``better``'s score minus ``other``'s, its paired bootstrap CI, randomisation p and McNemar."""
    from stance.evaluation.significance import approximate_randomisation, mcnemar, paired_bootstrap_ci

    low, high = paired_bootstrap_ci(folds, objective.base, n_bootstrap, confidence, seed)
    gold = [g for fold in folds for g in fold[0]]
    test = mcnemar(gold, [p for fold in folds for p in fold[1]], [p for fold in folds for p in fold[2]])
    return {
        "difference": better.metrics[objective.key] - other.metrics[objective.key], "ci_low": low, "ci_high": high,
        "p_randomisation": approximate_randomisation(folds, objective.base, n_resamples, seed),
        "mcnemar_best_only": test.a_only, "mcnemar_other_only": test.b_only, "p_mcnemar": test.p_value,
    }


def reference_of(entry: Entry, entries: list[Entry], reference: str) -> Entry | None:
    """The run of ``entry``'s variant with the ``reference`` setting (``key=value``), if any."""
    key, value = reference.split("=", 1)
    if entry.setting(key) == value:
        return None
    rest = entry.settings_except(key)
    return next((e for e in entries if e.model == entry.model and e.setting(key) == value
                 and e.settings_except(key) == rest), None)


def compare(entries: list[Entry], predictions: dict[str, Any], objective: Objective = Objective(),
            n_resamples: int = 10000, n_bootstrap: int = 1000, confidence: float = 0.95, seed: int = 0,
            experiment: str = "", reference: str | None = None) -> Comparison:
    """Rank finished runs by the ``objective`` (mean over folds) and test each against the best;
    with ``reference`` (``key=value``), also test each run against its variant's run with that setting
    (e.g. ``extra_train.sample=0``: does adding N statements help this model?).

    Pure: the entries given are left as they are; the comparison holds copies with their tests.
    """
    from stance.evaluation.significance import holm

    key, metric = objective.key, objective.base
    finished = [replace(e, tests={}) for e in entries if e.status == "FINISHED" and key in e.metrics]
    failed = [e for e in entries if not (e.status == "FINISHED" and key in e.metrics)]
    if not finished:
        raise StanceError(f"no finished run with metric '{key}' in experiment '{experiment}'")
    finished.sort(key=lambda e: (objective.rank_key(e.metrics), e.label))
    best = finished[0]
    for entry in finished[1:]:
        folds = paired_folds(predictions[best.run_id], predictions[entry.run_id])
        if folds is None:
            entry.tests = {"note": "different statements or folds: not paired"}
            continue
        entry.tests = _paired_tests(best, entry, folds, objective, n_resamples, n_bootstrap, confidence, seed)
    tested = [e for e in finished if "p_randomisation" in e.tests]
    for entry, adjusted in zip(tested, holm([e.tests["p_randomisation"] for e in tested])):
        entry.tests["p_holm"] = adjusted
    if reference:
        against = [(e, r) for e in finished if (r := reference_of(e, finished, reference)) is not None]
        for entry, base in against:
            folds = paired_folds(predictions[entry.run_id], predictions[base.run_id])
            entry.tests["reference"] = ({"note": "not paired"} if folds is None else
                                        _paired_tests(entry, base, folds, objective, n_resamples, n_bootstrap,
                                                      confidence, seed))
        paired = [e for e, _ in against if "p_randomisation" in e.tests["reference"]]
        for entry, adjusted in zip(paired, holm([e.tests["reference"]["p_randomisation"] for e in paired])):
            entry.tests["reference"]["p_holm"] = adjusted
    return Comparison(experiment, metric, finished, failed, objective=objective, reference=reference)


# ------------------------------------------------------------------ MLflow and files
def best_of_experiment(tracker, experiment: str, objective: Objective):
    """The best finished run of ``experiment``'s latest complete sweep in the same store, labelled
    with the experiment's name, and its out-of-fold predictions; or None and why not.

    ``report.against`` uses it to test an experiment's runs against the main job's best run
    (the CPU champion) on the same statements, as the registry's ``only_if_better`` compares them.
    """
    from stance.tracking.tracker import Tracker, run_rows

    other = Tracker(tracker.uri, experiment, tracker.artifact_root)
    other.read_only = tracker.read_only  # comparing a read-only store never writes to it
    try:
        sweep, _, _ = choose_sweep(other, None, incomplete=False)
    except StanceError:  # no such experiment yet (the main job has not run), or no sweep of it has ended
        sweep = None
    finished = [e for e in entries_from(run_rows(other.result_runs(sweep)) if sweep else [])
                if e.status == "FINISHED" and objective.key in e.metrics]
    if not finished:
        return None, None, f"no finished sweep in experiment '{experiment}' to test against (report.against)"
    best = min(finished, key=lambda e: (objective.rank_key(e.metrics), e.label))
    return replace(best, label=f"{best.label} ({experiment})"), other.load_frame(best.run_id, objective.predictions), None


def _describe(run, tracker) -> str:
    children = tracker.child_runs(run.info.run_id)
    done = sum(c.info.status == "FINISHED" for c in children)
    return f"{run.info.run_id} ({run.info.status}, {done} of {len(children)} runs finished)"


def choose_sweep(tracker, sweep: str | None, incomplete: bool) -> tuple[str | None, bool, str | None]:
    """The sweep to compare, whether it is complete, and a notice for the terminal.

    By default the latest *complete* sweep: a sweep still running, or one killed before its
    end, is skipped with a notice naming it. ``incomplete`` (or an explicit ``sweep``) takes
    the sweep as it is, marked incomplete so that no file is written from it.
    """
    from stance.tracking.tracker import sweep_complete

    if sweep is not None:
        run = tracker.sweep(sweep)
        complete = sweep_complete(run)
        return sweep, complete, None if complete else f"sweep {_describe(run, tracker)} is incomplete"
    sweeps = tracker.sweeps()
    if not sweeps:
        return None, True, None
    latest = sweeps[0]
    if sweep_complete(latest):
        return latest.info.run_id, True, None
    if incomplete:
        return latest.info.run_id, False, f"the latest sweep {_describe(latest, tracker)} is incomplete"
    done = next((s for s in sweeps if sweep_complete(s)), None)
    if done is None:
        raise NoRuns(f"no complete sweep in experiment '{tracker.experiment}' at {tracker.uri}: the latest, "
                     f"{_describe(latest, tracker)}, has not ended; --incomplete compares it as it is")
    return done.info.run_id, True, (f"the latest sweep {_describe(latest, tracker)} is incomplete: comparing the "
                                    f"latest complete sweep {done.info.run_id} (--incomplete compares the other)")


def compare_experiment(cfg, sweep: str | None = None, all_runs: bool = False, incomplete: bool = False) -> Comparison:
    """Compare the runs of ``cfg``'s experiment: its latest complete sweep by default (see
    :func:`choose_sweep`), a given sweep, or every run (the latest of each variant)."""
    from stance.tracking.tracker import Tracker, run_rows

    tracker = Tracker.from_config(cfg)
    tracker.connect(write=False)  # comparing reads; logging the comparison (log_comparison) writes
    report = cfg.get("report") or {}
    all_runs = all_runs or bool(report.get("all_runs"))
    complete, notice = True, None
    if not all_runs:
        sweep, complete, notice = choose_sweep(tracker, sweep, incomplete)
    entries = entries_from(run_rows(tracker.result_runs(sweep)))
    configured = Objective.from_config(cfg)
    objective = configured.for_runs([e.metrics for e in entries])  # the yardstick was absent: the fold mean
    if objective is not configured:
        notice = "; ".join(filter(None, [notice, f"no run has a score on the external yardstick "
                                                 f"'{configured.yardstick}': ranked by the mean {objective.metric} "
                                                 "over folds"]))
    guest, predictions = None, {}
    if report.get("against") and entries:
        guest, guest_predictions, guest_notice = best_of_experiment(tracker, report["against"], objective)
        notice = "; ".join(filter(None, [notice, guest_notice])) or None
        if guest is not None:
            predictions[guest.run_id] = guest_predictions
    if all_runs and any(e.status == "RUNNING" for e in entries):
        complete, notice = False, "some runs are still RUNNING"
    if all_runs:  # several runs of one variant: the latest counts
        entries = list({e.label: e for e in reversed(entries)}.values())
    if not entries:
        raise NoRuns(f"no runs in experiment '{cfg.experiment_name}' at {tracker.uri}: "
                          "run the experiment first (stance train -m +experiment=...)")
    candidates = []
    if report.get("select_by"):
        candidates = [e for e in entries if e.status == "FINISHED"]
        entries = select_best_per_model(candidates, report["select_by"], objective) + [e for e in entries
                                                                                       if e not in candidates]
    predictions.update({e.run_id: tracker.load_frame(e.run_id, objective.predictions) for e in entries
                        if e.status == "FINISHED" and objective.key in e.metrics})
    if guest is not None:
        entries = [*entries, guest]
    for entry in entries:  # runs logged before fit_seconds_mean existed: the mean of their folds
        if entry.status == "FINISHED" and "fit_seconds_mean" not in entry.metrics and "n_folds" in entry.metrics:
            entry.metrics["fit_seconds_mean"] = float(tracker.load_frame(entry.run_id, "fold_metrics.csv")
                                                      ["fit_seconds"].mean())
    comparison = compare(entries, predictions, objective, report.get("n_resamples", 10000), cfg.eval.n_bootstrap,
                         cfg.eval.confidence, cfg.seed, cfg.experiment_name, reference=report.get("reference"))
    comparison.against = guest.label if guest is not None else None
    comparison.curve = report.get("curve") or CURVE_OVERRIDE
    comparison.curve_x = report.get("curve_x") or "n_train_mean"
    comparison.sweep = sweep
    comparison.complete, comparison.notice = complete, notice
    comparison.candidates = sorted(candidates, key=lambda e: (-objective.sign() * e.metrics[report["select_by"]],
                                                              e.label))
    comparison.select_by = report.get("select_by")
    comparison.published = {str(k): float(v) for k, v in (report.get("published") or {}).items()}
    return comparison


def log_comparison(cfg, comparison: Comparison, files: list[Path]) -> str:
    """Log the comparison's files to a new MLflow run (role ``comparison``) in the same experiment."""
    from stance.tracking.tracker import Tracker

    best = comparison.best
    params = {"metric": comparison.metric, "sweep": comparison.sweep or "all runs", "best_run": best.run_id,
              "best": best.label, "runs": str(len(comparison.entries))}
    key = comparison.objective.key
    return Tracker.from_config(cfg).log_comparison(f"compare: {comparison.experiment}", files, params,
                                                   {f"best_{key}": best.metrics[key]})
