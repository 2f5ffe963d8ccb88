"""``stance compare``: an experiment's runs side by side, with significance tests.

:func:`compare` is pure: given run records (metrics, tags) and their out-of-fold
predictions it ranks the runs and tests each against the best on the same statements
(approximate randomisation on the headline score, a paired bootstrap CI of the
difference, McNemar's exact test, Holm's adjustment across the comparisons).
:func:`compare_experiment` reads the runs from MLflow and :func:`write_outputs` writes the
Markdown table and figures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stance.errors import StanceError

#: Overrides that do not distinguish runs within an experiment.
_SILENT = ("+experiment=", "experiment=", "model=", "hydra.", "tracking", "paths.", "debug=")
CURVE_OVERRIDE = "eval.train_fraction="


class NoRuns(StanceError):
    """The experiment has no runs in this store."""


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

    @property
    def variant(self) -> str:
        """The label without the training fraction: one line of a learning curve."""
        rest = [o for o in self.label.split(" ")[1:] if not o.startswith(CURVE_OVERRIDE)]
        return " ".join([self.model, *rest])


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

    @property
    def best(self) -> Entry:
        return self.entries[0]

    @property
    def has_curve(self) -> bool:
        return any(o.startswith(CURVE_OVERRIDE) for e in self.entries for o in e.overrides)

    @property
    def has_validation(self) -> bool:
        return any(f"val_{self.metric}_mean" in e.metrics for e in self.entries)


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


def select_best_per_model(entries: list[Entry], select_by: str) -> list[Entry]:
    """Each model's run with the highest ``select_by`` (e.g. ``val_f_avg_mean``): model selection."""
    chosen: dict[str, Entry] = {}
    for entry in entries:
        if select_by not in entry.metrics:
            raise StanceError(f"run {entry.run_id} ({entry.label}) has no metric '{select_by}' to select by")
        if entry.model not in chosen or entry.metrics[select_by] > chosen[entry.model].metrics[select_by]:
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


def compare(entries: list[Entry], predictions: dict[str, Any], metric: str = "macro_f1", n_resamples: int = 10000,
            n_bootstrap: int = 1000, confidence: float = 0.95, seed: int = 0, experiment: str = "") -> Comparison:
    """Rank finished runs by ``metric`` (mean over folds) and test each against the best."""
    from stance.significance import approximate_randomisation, holm, mcnemar, paired_bootstrap_ci

    key = f"{metric}_mean"
    finished = [e for e in entries if e.status == "FINISHED" and key in e.metrics]
    failed = [e for e in entries if e not in finished]
    if not finished:
        raise StanceError(f"no finished run with metric '{key}' in experiment '{experiment}'")
    finished.sort(key=lambda e: (-e.metrics[key], e.label))
    best = finished[0]
    for entry in finished[1:]:
        folds = paired_folds(predictions[best.run_id], predictions[entry.run_id])
        if folds is None:
            entry.tests = {"note": "different statements or folds: not paired"}
            continue
        low, high = paired_bootstrap_ci(folds, metric, n_bootstrap, confidence, seed)
        gold = [g for fold in folds for g in fold[0]]
        test = mcnemar(gold, [p for fold in folds for p in fold[1]], [p for fold in folds for p in fold[2]])
        entry.tests = {
            "difference": best.metrics[key] - entry.metrics[key], "ci_low": low, "ci_high": high,
            "p_randomisation": approximate_randomisation(folds, metric, n_resamples, seed),
            "mcnemar_best_only": test.a_only, "mcnemar_other_only": test.b_only, "p_mcnemar": test.p_value,
        }
    tested = [e for e in finished if "p_randomisation" in e.tests]
    for entry, adjusted in zip(tested, holm([e.tests["p_randomisation"] for e in tested])):
        entry.tests["p_holm"] = adjusted
    return Comparison(experiment, metric, finished, failed)


# ------------------------------------------------------------------ rendering
def _num(value: float | None, digits: int = 3) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def _p(value: float | None) -> str:
    if value is None:
        return "-"
    return "<0.001" if value < 0.001 else f"{value:.3f}"


def table_rows(comparison: Comparison) -> tuple[list[str], list[list[str]]]:
    """Header and cells of the leaderboard (shared by the terminal and Markdown)."""
    metric = comparison.metric
    header = ["model", f"{metric} (95% CI)"]
    others = [m for m in ("macro_f1", "f_avg", "accuracy") if m != metric]
    header += others
    if comparison.has_validation:
        header.append(f"val {metric}")
    if comparison.has_curve:
        header.append("train n")
    header += ["fit s", "Δ to best (95% CI)", "p rand.", "p Holm", "McNemar b/c", "p McNemar"]
    rows = []
    for entry in comparison.entries:
        m, t = entry.metrics, entry.tests
        cells = [entry.label, f"{_num(m.get(f'{metric}_mean'))} [{_num(m.get(f'{metric}_ci_low'))}, "
                              f"{_num(m.get(f'{metric}_ci_high'))}]"]
        cells += [_num(m.get(f"{o}_mean")) for o in others]
        if comparison.has_validation:
            cells.append(_num(m.get(f"val_{metric}_mean")))
        if comparison.has_curve:
            cells.append(_num(m.get("n_train_mean"), 0))
        cells.append(_num(m.get("fit_seconds_mean"), 1))
        if entry is comparison.best:
            cells += ["best", "", "", "", ""]
        elif "difference" in t:
            cells += [f"{t['difference']:+.3f} [{t['ci_low']:+.3f}, {t['ci_high']:+.3f}]", _p(t["p_randomisation"]),
                      _p(t.get("p_holm")), f"{t['mcnemar_best_only']}/{t['mcnemar_other_only']}", _p(t["p_mcnemar"])]
        else:
            cells += [t.get("note", "-"), "-", "-", "-", "-"]
        rows.append(cells)
    return header, rows


def markdown(comparison: Comparison, heading: str = "") -> str:
    """The leaderboard as Markdown, with a legend that says how to read it."""
    from stance.report import markdown_table

    header, rows = table_rows(comparison)
    n = len(comparison.entries)
    lines = [heading, ""] if heading else []
    lines += [markdown_table(header, rows, ["---"] + ["---:"] * (len(header) - 1)), ""]
    lines.append(
        f"{n} finished runs of MLflow experiment `{comparison.experiment}`"
        + (f" (sweep `{comparison.sweep}`)" if comparison.sweep else "")
        + f", ranked by the mean {comparison.metric} over folds; 95% CIs bootstrap the statements within folds. "
        "Each run is tested against the best on the same statements: Δ is the best's score minus the run's "
        "(paired bootstrap CI), p rand. is a two-sided approximate randomisation test of that difference, "
        "p Holm adjusts it for the number of runs tested, and McNemar b/c counts statements only the best / "
        "only the run gets right (exact test).")
    if comparison.failed:
        lines += ["", "Runs without results: " + ", ".join(f"{e.label} ({e.status})" for e in comparison.failed)]
    if comparison.select_by:
        lines += ["", f"Each model's row is its run with the highest `{comparison.select_by}`, chosen among all of "
                      f"that model's runs ({len(comparison.candidates)} candidate runs in all, listed in "
                      "`candidates.md`); the test split played no part in the choice."]
    if comparison.published:
        metric = comparison.metric
        key = f"{metric}_mean"
        side = [(v, k, "published", "") for k, v in comparison.published.items()]
        side += [(100 * e.metrics[key], e.label, "stance (this table)",
                  f"[{100 * e.metrics[f'{metric}_ci_low']:.1f}, {100 * e.metrics[f'{metric}_ci_high']:.1f}]")
                 for e in comparison.entries]
        lines += ["", f"Beside published results ({metric} × 100 on the same test set):", "",
                  markdown_table(["model", f"{metric} × 100", "95% CI", "source"],
                                 [[name, f"{score:.1f}", ci, source] for score, name, source, ci in
                                  sorted(side, key=lambda row: -row[0])], ["---", "---:", "---:", "---"])]
    return "\n".join(lines) + "\n"


def candidates_markdown(comparison: Comparison, heading: str = "") -> str:
    """Every run model selection chose from, best on validation first, with its test score."""
    from stance.report import markdown_table

    metric, chosen = comparison.metric, {e.run_id for e in comparison.entries}
    rows = [[e.label, _num(e.metrics.get(comparison.select_by)), _num(e.metrics.get(f"{metric}_mean")),
             "selected" if e.run_id in chosen else ""] for e in comparison.candidates]
    table = markdown_table(["run", comparison.select_by, f"test {metric}", ""], rows, ["---", "---:", "---:", "---"])
    return "\n".join([heading, "", table, ""] if heading else [table, ""])


def print_table(comparison: Comparison, title: str = "") -> None:
    import sys

    from rich.console import Console
    from rich.table import Table

    header, rows = table_rows(comparison)
    table = Table(title=title or None)
    for k, name in enumerate(header):
        table.add_column(name, justify="left" if k == 0 else "right")
    for cells in rows:
        table.add_row(*cells)
    Console(highlight=False, width=None if sys.stdout.isatty() else 200).print(table)


# ------------------------------------------------------------------ MLflow and files
def compare_experiment(cfg, sweep: str | None = None, all_runs: bool = False) -> Comparison:
    """Compare the runs of ``cfg``'s experiment: its latest sweep by default, or every run."""
    from stance.tracking import OOF_PREDICTIONS, Tracker, run_rows

    tracker = Tracker.from_config(cfg)
    tracker.connect()
    report = cfg.get("report") or {}
    all_runs = all_runs or bool(report.get("all_runs"))
    if sweep is None and not all_runs:
        sweep = tracker.latest_sweep()
    entries = entries_from(run_rows(tracker.result_runs(sweep)))
    if all_runs:  # several runs of one variant: the latest counts
        entries = list({e.label: e for e in reversed(entries)}.values())
    if not entries:
        raise NoRuns(f"no runs in experiment '{cfg.experiment_name}' at {tracker.uri}: "
                          "run the experiment first (stance train -m +experiment=...)")
    metric = report.get("metric", "macro_f1")
    candidates = []
    if report.get("select_by"):
        candidates = [e for e in entries if e.status == "FINISHED"]
        entries = select_best_per_model(candidates, report["select_by"]) + [e for e in entries if e not in candidates]
    predictions = {e.run_id: tracker.load_frame(e.run_id, OOF_PREDICTIONS) for e in entries
                   if e.status == "FINISHED"}
    for entry in entries:  # runs logged before fit_seconds_mean existed: the mean of their folds
        if entry.status == "FINISHED" and "fit_seconds_mean" not in entry.metrics:
            entry.metrics["fit_seconds_mean"] = float(tracker.load_frame(entry.run_id, "fold_metrics.csv")
                                                      ["fit_seconds"].mean())
    comparison = compare(entries, predictions, metric, report.get("n_resamples", 10000), cfg.eval.n_bootstrap,
                         cfg.eval.confidence, cfg.seed, cfg.experiment_name)
    comparison.sweep = sweep
    comparison.candidates = sorted(candidates, key=lambda e: (-e.metrics[report["select_by"]], e.label))
    comparison.select_by = report.get("select_by")
    comparison.published = {str(k): float(v) for k, v in (report.get("published") or {}).items()}
    return comparison


def curve_lines(comparison: Comparison) -> dict[str, list[tuple[float, float, float, float]]]:
    metric = comparison.metric
    lines: dict[str, list[tuple[float, float, float, float]]] = {}
    for e in comparison.entries:
        m = e.metrics
        if "n_train_mean" in m:
            lines.setdefault(e.variant, []).append(
                (m["n_train_mean"], m[f"{metric}_mean"], m[f"{metric}_ci_low"], m[f"{metric}_ci_high"]))
    return lines


def write_outputs(comparison: Comparison, out_dir: str | Path, heading: str = "") -> list[Path]:
    """``leaderboard.md``, ``scores.png`` and (for a learning curve) ``learning_curve.png``, atomically."""
    from stance.io import atomic_write_text
    from stance.plots import curve_figure, scores_figure

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    metric = comparison.metric
    written = [out / "leaderboard.md"]
    atomic_write_text(written[0], markdown(comparison, heading))
    if comparison.candidates:
        written.append(out / "candidates.md")
        atomic_write_text(written[-1], candidates_markdown(comparison, f"# {comparison.experiment}: candidate runs"))
    m = [e.metrics for e in comparison.entries]
    figures = {"scores.png": scores_figure([e.label for e in comparison.entries], [x[f"{metric}_mean"] for x in m],
                                           [x[f"{metric}_ci_low"] for x in m], [x[f"{metric}_ci_high"] for x in m],
                                           metric, title=comparison.experiment)}
    if comparison.has_curve:
        figures["learning_curve.png"] = curve_figure(curve_lines(comparison), metric, title=comparison.experiment)
    for name, figure in figures.items():
        scratch = out / f".{name}.tmp.png"
        figure.savefig(scratch)
        scratch.replace(out / name)
        written.append(out / name)
    return written


def log_comparison(cfg, comparison: Comparison, files: list[Path]) -> str:
    """Log the comparison's files to a new MLflow run (role ``comparison``) in the same experiment."""
    from stance.tracking import Tracker

    best = comparison.best
    params = {"metric": comparison.metric, "sweep": comparison.sweep or "all runs", "best_run": best.run_id,
              "best": best.label, "runs": str(len(comparison.entries))}
    return Tracker.from_config(cfg).log_comparison(f"compare: {comparison.experiment}", files, params,
                                                   {f"best_{comparison.metric}_mean":
                                                    best.metrics[f"{comparison.metric}_mean"]})
