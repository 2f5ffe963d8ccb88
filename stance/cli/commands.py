"""The ``stance`` command. Thin: it parses arguments, calls library functions and prints.

A user's mistake (missing file, bad label, unknown column ...) is one line on stderr and
exit status 2; ``stance annotations validate`` exits 1 when it finds problems.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from stance.tracking.store import CHAMPION_ALIAS, REGISTERED_MODEL
from stance.cli.annotate import corpus_add, labelstudio, suggest, suggest_simulate
from stance.cli.backend import backend_command
from stance.cli.classify import predict_command, serve_command
from stance.cli.explain import explain_command
from stance.cli.report import report_command
from stance.cli.options import (
    AUDIT, DATASHEET, DECISIONS, GOLD, GUIDELINES, PASSES, PASS_A, PASS_B, STATEMENTS, WRITTEN, WRITTEN_GOLD,
    articles_option, console, force_option, tracking_uri_option, user_errors,
)
from stance.errors import StanceError

#: The statements the project wrote (origin: written): training only, never tested on.


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="stance")
def main() -> None:
    """Stance classification: annotate statements, train and compare classifiers, predict."""


# --------------------------------------------------------------------------- corpus
@main.group()
def corpus() -> None:
    """Extract statements from source articles and report on the labelled corpus."""


@corpus.command("extract")
@articles_option
@click.option("--out", default=STATEMENTS, show_default=True, help="Statements JSONL to write.")
@force_option
@user_errors
def corpus_extract(articles_dir: str, out: str, force: bool) -> None:
    """Split the articles into statements with ids and exact character spans (idempotent: an --out
    that holds them already is left untouched; one with other content is replaced only with --force)."""
    from stance.annotation.corpus import extract, write_statements

    records = extract(articles_dir)
    changed = write_statements(records, out, replace=force)
    documents = len({r["document"] for r in records})
    click.echo(f"{len(records)} statements from {documents} articles -> {out} ({'written' if changed else 'unchanged'})")


@corpus.command("report")
@click.option("--gold", default=GOLD, show_default=True, help="Annotation records to report on.")
@click.option("--by", default="document", show_default=True, help="Field to break the counts down by.")
@user_errors
def corpus_report(gold: str, by: str) -> None:
    """Print the label distribution per document (or per holder, annotator ...)."""
    from stance.annotation.passes import read_records
    from stance.annotation.datasheet import label_distribution_table

    records = read_records(gold)
    if any(by not in r for r in records):
        raise StanceError(f"unknown field '{by}'", path=gold)
    terminal = console()
    terminal.print(label_distribution_table(records, by, title=f"Labels per {by} in {gold}"))


# --------------------------------------------------------------------------- annotations
@main.group()
def annotations() -> None:
    """Import, validate, compare and adjudicate annotation passes."""


@annotations.command("import")
@click.argument("sheet")
@click.option("--annotator", required=True, help="Name recorded in every record.")
@click.option("--out", required=True, help="Records JSONL to write.")
@click.option("--statements", default=STATEMENTS, show_default=True)
@force_option
@user_errors
def annotations_import(sheet: str, annotator: str, out: str, statements: str, force: bool) -> None:
    """Join a label sheet (CSV or JSONL: id, label, holder, rationale) with the statements."""
    from stance.annotation.passes import import_sheet, write_records
    from stance.io import read_jsonl

    rows = [row for _, row in read_jsonl(statements)]
    records = import_sheet(sheet, rows, annotator)
    changed = write_records(records, out, replace=force)
    click.echo(f"{len(records)} records by {annotator} -> {out}" + ("" if changed else " (unchanged)"))


@annotations.command("validate")
@click.argument("files", nargs=-1)
@articles_option
@user_errors
def annotations_validate(files: tuple[str, ...], articles_dir: str) -> None:
    """Check records: schema, unique ids, labels, spans against the seeds, duplicates.

    With no FILES: the gold files and every pass, of the articles and of the written statements.
    """
    from stance.annotation.passes import validate_file

    paths = list(files) or [GOLD, *sorted(str(p) for p in Path(PASSES).glob("*.jsonl")),
                            WRITTEN_GOLD, *sorted(str(p) for p in Path(WRITTEN, "passes").glob("*.jsonl"))]
    problems = [p for path in paths for p in validate_file(path, articles_dir)]
    for problem in problems:
        click.echo(str(problem))
    if problems:
        click.echo(f"{len(problems)} problems in {len({p.path for p in problems})} of {len(paths)} files", err=True)
        sys.exit(1)
    click.echo(f"ok: {len(paths)} files valid")


@annotations.command("agreement")
@click.argument("first", default=PASS_A)
@click.argument("second", default=PASS_B)
@user_errors
def annotations_agreement(first: str, second: str) -> None:
    """Cohen's kappa, Krippendorff's alpha and the confusion table between two passes."""
    from stance.annotation.agreement import agreement
    from stance.annotation.passes import read_records
    from stance.annotation.datasheet import agreement_table

    a, b = read_records(first), read_records(second)
    try:
        result = agreement(a, b)
    except ValueError as exc:
        raise StanceError(str(exc)) from None
    terminal = console()
    terminal.print(
        f"n={result.n}  observed agreement={result.observed:.3f}  "
        f"Cohen's kappa={result.cohen_kappa:.3f}  Krippendorff's alpha={result.krippendorff_alpha:.3f}"
    )
    if result.only_a or result.only_b:
        terminal.print(f"not paired: {result.only_a} only in {first}, {result.only_b} only in {second}")
    terminal.print(agreement_table(result, a[0]["annotator"], b[0]["annotator"]))


@annotations.command("adjudicate")
@click.option("--first", default=PASS_A, show_default=True)
@click.option("--second", default=PASS_B, show_default=True)
@click.option("--decisions", default=DECISIONS, show_default=True,
              help="Sheet of decisions: id, label, holder, note.")
@click.option("--corrections", default=None, help="Sheet of later corrections (a label audit): id, label, holder, "
              "note. [default: NAME.corrections.csv beside the decisions sheet NAME.csv, if present]")
@click.option("--out", default=GOLD, show_default=True)
@click.option("--list", "list_only", is_flag=True, help="Only list the disagreements to decide.")
@force_option
@user_errors
def annotations_adjudicate(first: str, second: str, decisions: str, corrections: str | None, out: str,
                           list_only: bool, force: bool) -> None:
    """Write the gold file: agreed labels, each disagreement settled by a decision, then any corrections."""
    from stance.annotation.passes import adjudicate, disagreements, read_records, write_records
    from stance.tables import visible

    a, b = read_records(first), read_records(second)
    if list_only:
        for ra, rb in disagreements(a, b):
            click.echo("\t".join(visible(v) for v in (ra["id"], ra["label"], rb["label"], ra["text"])))
        return
    default = Path(decisions) == Path(DECISIONS)  # the seed corpus's corrections go with its own decisions only
    beside = Path(decisions).with_name("corrections.csv" if default else f"{Path(decisions).stem}.corrections.csv")
    corrections = corrections or (str(beside) if beside.is_file() else None)
    gold = adjudicate(a, b, decisions, corrections)
    changed = write_records(gold, out, replace=force)
    settled = sum("adjudication" in r for r in gold)
    fixed = sum("correction" in r for r in gold)
    click.echo(f"{len(gold)} gold records ({settled} adjudicated, {fixed} corrected) -> {out} "
               f"({'written' if changed else 'unchanged'})")


@annotations.command("audit")
@click.argument("files", nargs=-1)
@click.option("--model", default="embed_logreg", show_default=True, help="A model config in conf/model/.")
@click.option("--folds", default=5, show_default=True, help="Stratified folds for the out-of-fold probabilities.")
@click.option("--seed", default=13, show_default=True)
@click.option("--out", default=AUDIT, show_default=True, help="CSV of every flagged statement.")
@click.option("--top", default=30, show_default=True, help="How many to print.")
@user_errors
def annotations_audit(files: tuple[str, ...], model: str, folds: int, seed: int, out: str, top: int) -> None:
    """Rank likely label errors (cleanlab, out-of-fold probabilities) in gold files, both sources by default."""
    from stance.annotation.audit import label_issues, out_of_fold_probabilities
    from stance.annotation.passes import read_records
    from stance.experiment.estimators import make_estimator
    from stance.experiment.catalogue import experiment_config
    from stance.io import atomic_write_text
    from stance.experiment.jobs import quiet_libraries
    from stance.tables import rich_table

    quiet_libraries()
    paths = list(files) or [GOLD, WRITTEN_GOLD]
    records = [r for path in paths for r in read_records(path)]
    cfg = experiment_config(None, [f"model={model}", f"seed={seed}"])
    probabilities = out_of_fold_probabilities([r["text"] for r in records], [r["target"] for r in records],
                                              [r["label"] for r in records], lambda: make_estimator(cfg), folds, seed)
    issues = label_issues(records, probabilities)
    atomic_write_text(out, issues.to_csv(index=False))
    rows = [[r["id"], r["given"], r["suggested"], f"{r['p_suggested']:.2f}", r["text"][:90]]
            for r in issues.head(top).to_dict(orient="records")]
    console().print(rich_table(["id", "given", "suggested", "p", "text"], rows,
                                justify=["left", "left", "left", "right", "left"],
                                title=f"{len(issues)} of {len(records)} statements flagged ({model}, {folds} folds)"))
    by_origin = issues["origin"].value_counts().to_dict()
    click.echo(f"flagged by origin: {by_origin}; all flagged -> {out}")


@annotations.command("datasheet")
@click.option("--out", default=DATASHEET, show_default=True)
@click.option("--check", is_flag=True, help="Exit 1 if the datasheet's generated part is out of date.")
@user_errors
def annotations_datasheet(out: str, check: bool) -> None:
    """Regenerate the figures of the datasheet (counts, agreement) from the annotation files."""
    from stance.annotation.datasheet import render_datasheet

    from stance.io import atomic_write_text, read_text

    current = read_text(out, "datasheet")
    updated = render_datasheet(current, gold=GOLD, first=PASS_A, second=PASS_B,
                               guidelines=GUIDELINES,
                               written=(WRITTEN_GOLD, f"{WRITTEN}/passes/writers.jsonl",
                                        f"{WRITTEN}/passes/blind.jsonl"))
    if check:
        if updated != current:
            click.echo(f"{out} is out of date: run 'stance annotations datasheet'", err=True)
            sys.exit(1)
        click.echo(f"{out} is up to date")
        return
    atomic_write_text(out, updated)
    click.echo(f"{out} {'updated' if updated != current else 'unchanged'}")


@main.command("train", context_settings={"ignore_unknown_options": True, "allow_extra_args": True,
                                        "help_option_names": []})
@click.argument("overrides", nargs=-1, type=click.UNPROCESSED)
def train_command(overrides: tuple[str, ...]) -> None:
    """Train and cross-validate models (Hydra app: OVERRIDES such as model=finetune, -m, --help)."""
    from stance.cli.hydra_entry import main as hydra_main

    hydra_main(list(overrides))


# --------------------------------------------------------------------------- comparing
@main.command("compare")
@click.argument("experiment", required=False)
@click.option("--sweep", default=None, help="Compare this sweep's runs (parent run id). [default: the latest sweep]")
@click.option("--all-runs", is_flag=True, help="Compare every run of the experiment (the latest of each variant).")
@click.option("--incomplete", is_flag=True, help="Compare the latest sweep even if it is still running or was "
              "stopped early (the table is printed; no file is written from it).")
@click.option("--out", default=None, help="Folder for leaderboard.md and the figures. [default: experiments/EXPERIMENT/]")
@click.option("--log/--no-log", default=True, show_default=True, help="Log them to a comparison run in MLflow.")
@click.option("-o", "--override", "overrides", multiple=True, help="Config override, e.g. -o tracking=server.")
@user_errors
def compare_command(experiment, sweep, all_runs, incomplete, out, log, overrides) -> None:
    """Leaderboard of an experiment's runs, each tested against the best (EXPERIMENT: a name in experiments/).

    Only complete sweeps are compared by default: a newer sweep that is still running or was
    stopped early is named in a warning and skipped."""
    from stance.experiment.compare import compare_experiment, log_comparison
    from stance.tracking.store import read_only_problem
    from stance.experiment.leaderboard import print_table, write_outputs
    from stance.experiment.config import experiments_dir
    from stance.experiment.catalogue import experiment_config
    from stance.experiment.jobs import quiet_libraries

    quiet_libraries()
    cfg = experiment_config(experiment, overrides)
    if log and (problem := read_only_problem(cfg.tracking.uri)):
        raise StanceError(f"{problem} (or compare with --no-log)")
    comparison = compare_experiment(cfg, sweep=sweep, all_runs=all_runs, incomplete=incomplete)
    if comparison.notice:
        click.echo(f"warning: {comparison.notice}", err=True)
    print_table(comparison, title=f"{cfg.experiment_name}: {len(comparison.entries)} runs by {comparison.metric}"
                + ("" if comparison.complete else " (INCOMPLETE)"))
    if not comparison.complete:
        click.echo("not writing the leaderboard or logging it: these results are incomplete")
        return
    folder = Path(out) if out else experiments_dir() / (experiment or "default")
    files = write_outputs(comparison, folder, heading=f"# {experiment or cfg.experiment_name}: leaderboard")
    click.echo("wrote " + ", ".join(str(f) for f in files))
    if log:
        click.echo(f"logged to comparison run {log_comparison(cfg, comparison, files)}")


@main.command("experiments")
@click.option("--readme", default=None, help="Page to regenerate. [default: experiments/README.md]")
@click.option("-o", "--override", "overrides", multiple=True, help="Config override, e.g. -o tracking=server.")
@user_errors
def experiments_command(readme, overrides) -> None:
    """Regenerate experiments/README.md (questions, commands, results) from the MLflow store."""
    from stance.experiment.compare import NoRuns, compare_experiment
    from stance.experiment.leaderboard import markdown, write_outputs
    from stance.experiment.config import experiments_dir
    from stance.experiment.catalogue import BEGIN, END, experiment_config, experiments, render_readme
    from stance.tables import replace_section
    from stance.io import atomic_write_text, read_text
    from stance.experiment.jobs import quiet_libraries

    quiet_libraries()
    folder = experiments_dir()
    items = []
    for experiment in experiments(folder):
        try:
            comparison = compare_experiment(experiment_config(experiment.name, overrides))
            if comparison.notice:
                click.echo(f"warning: {experiment.name}: {comparison.notice}", err=True)
        except NoRuns:
            kept = experiment.results_dir() / "leaderboard.md"
            table = read_text(kept, "leaderboard").split("\n", 2)[-1] if kept.is_file() else None
            click.echo(f"{experiment.name}: no runs in this store" + (f"; kept {kept}" if table else ""))
            items.append((experiment, table))
            continue
        write_outputs(comparison, experiment.results_dir(), heading=f"# {experiment.name}: leaderboard")
        table = markdown(comparison)
        items.append((experiment, table))
        page = experiment.results_dir() / "README.md"
        if page.is_file():
            atomic_write_text(page, replace_section(read_text(page, "README"), table, BEGIN, END, page))
        click.echo(f"{experiment.name}: {len(comparison.entries)} runs, best {comparison.best.label}")
    path = Path(readme) if readme else folder / "README.md"
    current = read_text(path, "README") if path.is_file() else f"# Experiments\n\n{BEGIN}\n{END}\n"
    atomic_write_text(path, replace_section(current, render_readme(items), BEGIN, END, path))
    click.echo(f"wrote {path}")


# --------------------------------------------------------------------------- models
@main.command("register")
@click.option("--run", "run_id", default=None, help="The run whose model to register.")
@click.option("--experiment", default=None, help="Or: pick the best finished run of this MLflow experiment ...")
@click.option("--by", "metric", default="macro_f1", show_default=True,
              help="... by this metric (macro_f1, f_avg, accuracy: the mean over folds; or any logged metric).")
@click.option("--lowest", is_flag=True, help="The lowest value of --by wins (a metric to minimise).")
@click.option("--name", default=REGISTERED_MODEL, show_default=True, help="Registered model name.")
@click.option("--alias", default=CHAMPION_ALIAS, show_default=True, help="Alias moved to the new version.")
@tracking_uri_option
@click.option("--no-lean", is_flag=True, help="Do not build the lean artefact now (stance predict builds it on "
              "first use).")
@user_errors
def register_command(run_id, experiment, metric, lowest, name, alias, tracking_uri, no_lean) -> None:
    """Register a run's model in the MLflow Model Registry and move an alias to it."""
    from stance.tracking.store import default_tracking_uri
    from stance.evaluation.objective import Objective
    from stance.tracking.registry import best_run, register

    uri = tracking_uri or default_tracking_uri()
    if bool(run_id) == bool(experiment):
        raise StanceError("give either --run RUN_ID or --experiment NAME (with --by METRIC)")
    if experiment:
        objective = Objective(metric, "minimize" if lowest else "maximize")
        run = best_run(uri, experiment, objective)
        run_id = run.info.run_id
        click.echo(f"best run by {objective.key}: {run.info.run_name} ({run.data.metrics[objective.key]:.3f})")
    click.echo(f"registered {register(uri, run_id, name, alias)}")
    if not no_lean:
        from stance.serving.onnx.cache import prepare

        click.echo(prepare(f"models:/{name}@{alias}", uri))


@main.group("runs")
def runs() -> None:
    """Housekeeping of the runs in the MLflow store."""


@runs.command("cleanup")
@tracking_uri_option
@user_errors
def runs_cleanup(tracking_uri) -> None:
    """Mark runs left RUNNING by a process that is gone (kill -9, crash) as FAILED."""
    from stance.tracking.store import default_tracking_uri
    from stance.tracking.registry import cleanup_runs

    reaped = cleanup_runs(tracking_uri or default_tracking_uri())
    click.echo(f"marked {len(reaped)} run(s) FAILED" + (f": {', '.join(reaped)}" if reaped else
                                                        " (no RUNNING run of a dead process on this host)"))


@main.command("models")
@tracking_uri_option
@user_errors
def models_command(tracking_uri) -> None:
    """List registered models and their aliases."""
    from stance.tracking.store import default_tracking_uri
    from stance.tracking.registry import registered_models

    for model in registered_models(tracking_uri or default_tracking_uri()) or ["(no registered models)"]:
        click.echo(model if model.startswith("(") else f"models:/{model}")


corpus.add_command(corpus_add)
main.add_command(labelstudio)
main.add_command(predict_command)
main.add_command(serve_command)
main.add_command(suggest)
main.add_command(suggest_simulate)
main.add_command(explain_command)
main.add_command(report_command)
labelstudio.add_command(backend_command)


if __name__ == "__main__":  # pragma: no cover
    main()
