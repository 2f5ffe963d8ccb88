"""Leaderboards: a :class:`~stance.experiment.compare.Comparison` as a terminal table, a Markdown page
and figures (``experiments/NAME/leaderboard.md``, ``scores.png``, ``learning_curve.png``);
and the plain status table of a sweep whose runs cannot be compared."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from stance.experiment.compare import Comparison, common_overrides, label_of
from stance.evaluation.metrics import HEADLINE
from stance.evaluation.objective import Objective
from stance.tables import markdown_table, print_rich, rich_table


def _num(value: float | None, digits: int = 3) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def _p(value: float | None) -> str:
    if value is None:
        return "-"
    return "<0.001" if value < 0.001 else f"{value:.3f}"


#: Column names of a learning curve's x metric.
CURVE_X_NAMES = {"n_train_mean": "train n", "n_extra_mean": "extra n"}


def _test_cells(t: dict[str, Any]) -> list[str]:
    """Δ with its CI, randomisation p, Holm p, McNemar counts and p of one paired test (or its note)."""
    if "difference" not in t:
        return [t.get("note", "-"), "-", "-", "-", "-"]
    return [f"{t['difference']:+.3f} [{t['ci_low']:+.3f}, {t['ci_high']:+.3f}]", _p(t["p_randomisation"]),
            _p(t.get("p_holm")), f"{t['mcnemar_best_only']}/{t['mcnemar_other_only']}", _p(t["p_mcnemar"])]


def _score(m: dict[str, float], key: str, low: str, high: str) -> str:
    return f"{_num(m.get(key))} [{_num(m.get(low))}, {_num(m.get(high))}]"


def _recalls(m: dict[str, float], yardstick: str) -> str:
    """Per-class recall on a yardstick, support/oppose/neutral."""
    return "/".join(_num(m.get(f"{yardstick}_recall_{label}"), 2) for label in ("support", "oppose", "neutral"))


def table_rows(comparison: Comparison) -> tuple[list[str], list[list[str]]]:
    """Header and cells of the leaderboard (shared by the terminal and Markdown): the ranking score,
    the other yardstick beside it (fold mean, or the external yardstick's score), per-class recall on
    each external yardstick, then the tests against the best."""
    metric, objective = comparison.metric, comparison.objective
    ranked_on = objective.yardstick
    header = ["model", f"{objective.label} (95% CI)"]
    beside = [y for y in comparison.yardsticks if y != ranked_on]
    if ranked_on:
        header.append(f"folds {metric} (95% CI)")
    header += [f"{y} {metric} (95% CI)" for y in beside]
    header += [f"{y} recall s/o/n" for y in comparison.yardsticks]
    others = [m for m in HEADLINE if m != metric]
    header += [f"{ranked_on} {o}" if ranked_on else o for o in others]
    if comparison.has_validation:
        header.append(f"val {metric}")
    if comparison.has_curve:
        header.append(CURVE_X_NAMES.get(comparison.curve_x, comparison.curve_x))
    ece = f"{ranked_on}_ece" if ranked_on else "ece_mean"  # calibration on the ranking yardstick
    calibration = any(ece in e.metrics for e in comparison.entries)
    if calibration:
        header.append(f"{ranked_on} ECE" if ranked_on else "ECE")
    header += ["fit s", "Δ to best (95% CI)", "p rand.", "p Holm", "McNemar b/c", "p McNemar"]
    rows = []
    for entry in comparison.entries:
        m, t = entry.metrics, entry.tests
        cells = [entry.label, _score(m, objective.key, *objective.ci)]
        if ranked_on:
            folds = objective.cross_validated()
            cells.append(_score(m, folds.key, *folds.ci))
        cells += [_score(m, f"{y}_{metric}", f"{y}_{metric}_ci_low", f"{y}_{metric}_ci_high") for y in beside]
        cells += [_recalls(m, y) for y in comparison.yardsticks]
        cells += [_num(m.get(f"{ranked_on}_{o}" if ranked_on else f"{o}_mean")) for o in others]
        if comparison.has_validation:
            cells.append(_num(m.get(f"val_{metric}_mean")))
        if comparison.has_curve:
            cells.append(_num(m.get(comparison.curve_x), 0))
        if calibration:
            cells.append(_num(m.get(ece)))
        cells.append(_num(m.get("fit_seconds_mean", m.get("refit_seconds")), 1))
        cells += ["best", "", "", "", ""] if entry is comparison.best else _test_cells(t)
        rows.append(cells)
    return header, rows


def _ranking_legend(comparison: Comparison) -> str:
    """How the table was ranked and what its intervals resample."""
    objective = comparison.objective
    if not objective.yardstick:
        return (f", ranked by the mean {comparison.metric} over folds; 95% CIs bootstrap the statements within "
                "folds.")
    y = objective.yardstick
    sizes = next(((e.metrics.get(f"{y}_n"), e.metrics.get(f"{y}_pages")) for e in comparison.entries), (None, None))
    size = f" ({sizes[0]:.0f} statements from {sizes[1]:.0f} pages)" if None not in sizes else ""
    return (f", ranked by {objective.label}: each run's model trained on all the project's statements and scored on "
            f"the external yardstick `{y}`{size}, which no model trains on; its 95% CI resamples whole pages. "
            f"`folds {comparison.metric}` is the cross-validation's mean over folds (statements bootstrapped within "
            "folds; `-` where this experiment scores a model on the yardstick only, `eval.external_only`). The paired tests "
            f"compare the runs' predictions on `{y}`.")


def markdown(comparison: Comparison, heading: str = "") -> str:
    """The leaderboard as Markdown, with a legend that says how to read it."""
    header, rows = table_rows(comparison)
    n = len(comparison.entries) - (comparison.against is not None)
    lines = [heading, ""] if heading else []
    lines += [markdown_table(header, rows, ["---"] + ["---:"] * (len(header) - 1)), ""]
    lines.append(
        f"{n} finished runs of MLflow experiment `{comparison.experiment}`"
        + (f" (sweep `{comparison.sweep}`)" if comparison.sweep else "")
        + _ranking_legend(comparison)
        + " Each run is tested against the best on the same statements: Δ is the best's score minus the run's "
        "(paired bootstrap CI), p rand. is a two-sided approximate randomisation test of that difference, "
        "p Holm adjusts it for the number of runs tested, and McNemar b/c counts statements only the best / "
        "only the run gets right (exact test)."
        + (" `recall s/o/n` is each label's recall (support, oppose, neutral) on an external yardstick."
           if comparison.yardsticks else "")
        + (" ECE is the expected calibration error of the top label (10 confidence bins, "
           + ("on the yardstick" if comparison.objective.yardstick else "mean over folds")
           + "; 0 is perfectly calibrated)." if any("ece_mean" in e.metrics for e in comparison.entries) else "")
        + (" `fit s` is the mean fit time of a fold, or of the one fit on all the statements for a model "
           "scored on the yardstick only." if comparison.objective.yardstick else ""))
    if comparison.against:
        lines += ["", f"`{comparison.against}` is not one of them: it is the best run of that MLflow experiment's "
                      "latest complete sweep (the main job's, whose best run is the CPU champion), added by "
                      "`report.against` so that this experiment's runs are tested against it on the same statements."]
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
    by_target = target_rows(comparison)
    if by_target:
        lines += ["", f"{comparison.metric} on each target's statements (the last column pools them):", "",
                  markdown_table(by_target[0], by_target[1], ["---"] + ["---:"] * (len(by_target[0]) - 1))]
    if comparison.has_reference:
        header, rows = reference_rows(comparison)
        lines += ["", f"Each run against the run of the same model and settings with `{comparison.reference}` "
                      "(Δ is the run's score minus that run's; tests as above, Holm over these comparisons):", "",
                  markdown_table(header, rows, ["---"] + ["---:"] * (len(header) - 1))]
    return "\n".join(lines) + "\n"


def target_rows(comparison: Comparison) -> tuple[list[str], list[list[str]]] | None:
    """Header and cells of each run's score on each target (multi-target corpora), or None."""
    metric = comparison.metric
    prefix, suffix = "target_", f"_{metric}"
    keys = sorted({k[len(prefix):-len(suffix)] for e in comparison.entries for k in e.metrics
                   if k.startswith(prefix) and k.endswith(suffix)})
    if not keys:
        return None
    sizes = {k: next((e.metrics[f"{prefix}{k}_n"] for e in comparison.entries if f"{prefix}{k}_n" in e.metrics), None)
             for k in keys}
    header = ["model", *(k if sizes[k] is None else f"{k} (n={sizes[k]:.0f})" for k in keys), f"{metric} (all)"]
    rows = [[e.label, *(_num(e.metrics.get(f"{prefix}{k}{suffix}")) for k in keys), _num(e.metrics.get(f"{metric}_mean"))]
            for e in comparison.entries]
    return header, rows


def candidates_markdown(comparison: Comparison, heading: str = "") -> str:
    """Every run model selection chose from, best on validation first, with its test score."""
    metric, chosen = comparison.metric, {e.run_id for e in comparison.entries}
    rows = [[e.label, _num(e.metrics.get(comparison.select_by)), _num(e.metrics.get(f"{metric}_mean")),
             "selected" if e.run_id in chosen else ""] for e in comparison.candidates]
    table = markdown_table(["run", comparison.select_by, f"test {metric}", ""], rows, ["---", "---:", "---:", "---"])
    return "\n".join([heading, "", table, ""] if heading else [table, ""])


def reference_rows(comparison: Comparison) -> tuple[list[str], list[list[str]]]:
    """Header and cells of each run against its variant's reference run (``report.reference``)."""
    header = ["model", f"{comparison.objective.label} (95% CI)", f"Δ vs {comparison.reference} (95% CI)", "p rand.", "p Holm",
              "McNemar b/c", "p McNemar"]
    rows = []
    for entry in sorted((e for e in comparison.entries if "reference" in e.tests), key=lambda e: e.label):
        m, t = entry.metrics, entry.tests["reference"]
        cells = [entry.label, _score(m, comparison.objective.key, *comparison.objective.ci)]
        rows.append(cells + _test_cells(t))
    return header, rows


def print_table(comparison: Comparison, title: str = "") -> None:
    """The leaderboard in the terminal (and each run against its reference, if the experiment sets one)."""
    print_rich(rich_table(*table_rows(comparison), title=title))
    by_target = target_rows(comparison)
    if by_target:
        print_rich(rich_table(*by_target, title=f"{comparison.metric} by target"))
    if comparison.has_reference:
        print_rich(rich_table(*reference_rows(comparison), title=f"against {comparison.reference}"))


def curve_lines(comparison: Comparison) -> dict[str, list[tuple[float, float, float, float]]]:
    metric = comparison.metric
    lines: dict[str, list[tuple[float, float, float, float]]] = {}
    for e in comparison.entries:
        m = e.metrics
        if comparison.curve_x in m and e.setting(comparison.curve) is not None:
            lines.setdefault(e.variant(comparison.curve), []).append(
                (m[comparison.curve_x], m[f"{metric}_mean"], m[f"{metric}_ci_low"], m[f"{metric}_ci_high"]))
    return lines


def write_outputs(comparison: Comparison, out_dir: str | Path, heading: str = "") -> list[Path]:
    """``leaderboard.md``, ``scores.png`` and (for a learning curve) ``learning_curve.png``, atomically."""
    from stance.io import atomic_write, atomic_write_text
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
    key, (low, high) = comparison.objective.key, comparison.objective.ci
    figures = {"scores.png": scores_figure([e.label for e in comparison.entries], [x[key] for x in m],
                                           [x.get(low, math.nan) for x in m], [x.get(high, math.nan) for x in m],
                                           comparison.objective.label, title=comparison.experiment)}
    if comparison.has_curve:
        figures["learning_curve.png"] = curve_figure(curve_lines(comparison), metric, title=comparison.experiment)
    for name, figure in figures.items():
        atomic_write(out / name, lambda tmp, figure=figure: figure.savefig(tmp, format="png"))
        written.append(out / name)
    return written




def status_rows(rows: list[dict[str, Any]], objective: Objective = Objective()) -> tuple[list[str], list[list[str]]]:
    """Header and cells of a sweep's plain table (no tests), best first; runs without the
    objective's metric (failed) last. Shown when the runs cannot be compared."""

    def cell(metrics: dict[str, float], name: str, digits: int = 3) -> str:
        value = metrics.get(name)
        return "-" if value is None else f"{value:.{digits}f}"

    key, metric = objective.key, objective.base
    common = common_overrides(rows)
    ordered = sorted(rows, key=lambda r: (0, objective.rank_key(r["metrics"])) if key in r["metrics"] else (1, 0.0))
    others = [m for m in HEADLINE if m != metric]
    header = ["model", "eval", f"{metric} (95% CI)", *others, "fit s", "status"]
    table = []
    for row in ordered:
        m = row["metrics"]
        score = cell(m, key)
        if f"{metric}_ci_low" in m:
            score += f" [{m[f'{metric}_ci_low']:.3f}, {m[f'{metric}_ci_high']:.3f}]"
        table.append([label_of(row["model"], row.get("overrides", "").split(), common), row["eval"], score,
                      *(cell(m, f"{o}_mean") for o in others), cell(m, "fit_seconds_mean", 1), row["status"]])
    return header, table


def print_status(rows: list[dict[str, Any]], title: str = "", objective: Objective = Objective()) -> None:
    """A sweep's runs in the terminal, when they cannot be compared (e.g. none finished)."""
    header, cells = status_rows(rows, objective)
    print_rich(rich_table(header, cells, title=title, justify=["left", "left", *["right"] * (len(header) - 3), "left"]),
               width=132)


