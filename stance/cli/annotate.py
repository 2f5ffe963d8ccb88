"""The annotation loop's commands: ``stance corpus add``, ``stance labelstudio export|import``
and ``stance suggest``. Thin, like :mod:`stance.cli.commands`: parse, call, print."""

from __future__ import annotations

from pathlib import Path

import click

from stance.tracking.store import CHAMPION_URI
from stance.cli.options import (
    GOLD, NEXT_BATCH, PASSES, STATEMENTS, WRITTEN_GOLD,
    articles_option, console, force_option, pending_option, tracking_uri_option, user_errors,
)
from stance.errors import StanceError


def _pending_files(given: tuple[str, ...], pending_dir: str) -> list[Path]:
    files = [Path(f) for f in given] or sorted(Path(pending_dir).glob("*.jsonl"))
    if not files:
        raise StanceError(f"no pending statements: no *.jsonl in {pending_dir} (add an article with "
                          "stance corpus add, or name statement files)")
    return files


def _read_statements(files: list[Path]) -> list[dict]:
    from stance.io import read_jsonl

    statements, seen = [], set()
    for path in files:
        for line, record in read_jsonl(path):
            missing = [k for k in ("id", "document", "start", "end", "text") if k not in record]
            if missing:
                raise StanceError(f"missing field '{missing[0]}'", path=path, line=line)
            if record["id"] not in seen:
                seen.add(record["id"])
                statements.append(record)
    return statements


# --------------------------------------------------------------------------- corpus add
@click.command("add")
@click.argument("article")
@click.option("--url", default=None, help="Where the article was published (http(s) URL).")
@click.option("--date", default=None, help="Publication date, YYYY-MM-DD.")
@click.option("--max-bytes", type=click.IntRange(min=1), default=None,
              help="Largest article accepted. [default: $STANCE_MAX_ARTICLE_BYTES or 2000000]")
@articles_option
@pending_option
@user_errors
def corpus_add(article, url, date, max_bytes, articles_dir, pending_dir) -> None:
    """Store a new article (a UTF-8 text file) as raw data and write its statements as a pending batch."""
    from stance.annotation.articles import add_article

    added = add_article(article, articles_dir, pending_dir, url=url, date=date, max_bytes=max_bytes)
    if not added.new:
        click.echo(f"{article} is already in the corpus as {added.article} (nothing done)")
        return
    click.echo(f"added {added.article}: {added.statements} statements -> {added.pending}")


# --------------------------------------------------------------------------- Label Studio
@click.group("labelstudio")
def labelstudio() -> None:
    """Round-trip statements through Label Studio (export tasks, import its JSON export)."""


@labelstudio.command("export")
@click.argument("statements", nargs=-1)
@pending_option
@articles_option
@click.option("-m", "--model", "model_uri", default=CHAMPION_URI, show_default=True,
              help="Model whose predictions become pre-annotations.")
@tracking_uri_option
@click.option("--no-predictions", is_flag=True, help="Tasks without pre-annotations.")
@click.option("--out", "out_dir", default="labelstudio", show_default=True,
              help="Folder for config.xml and tasks.json.")
@user_errors
def labelstudio_export(statements, pending_dir, articles_dir, model_uri, tracking_uri, no_predictions, out_dir) -> None:
    """Write a labelling config and tasks (statements in their article context, with the model's
    predictions as pre-annotations) for Label Studio."""
    import json

    from stance.annotation.labelstudio import labelling_config, tasks
    from stance.io import atomic_write_text
    from stance.labels import FOREIGN_TROOPS_TARGET

    records = _read_statements(_pending_files(statements, pending_dir))
    predictions = None
    if not no_predictions:
        from stance.serving.predict import classify

        predictions = classify([{"id": r["id"], "text": r["text"], "target": r.get("target")} for r in records],
                               model_uri, tracking_uri, progress=False)
    made = tasks(records, articles_dir, predictions, model_version=model_uri)
    target = records[0].get("target") or FOREIGN_TROOPS_TARGET
    out = Path(out_dir)
    atomic_write_text(out / "config.xml", labelling_config(target))
    atomic_write_text(out / "tasks.json", json.dumps(made, ensure_ascii=False, indent=1) + "\n")
    click.echo(f"{len(made)} tasks -> {out / 'tasks.json'}; labelling config -> {out / 'config.xml'}"
               + ("" if no_predictions else f" (pre-annotated by {model_uri})"))


@labelstudio.command("import")
@click.argument("export")
@click.option("--annotator", required=True, help="Name of the annotator (the pass's annotator field).")
@click.option("--user", default=None, help="Only this Label Studio user's annotations (id or e-mail).")
@click.option("--out", default=None, help="Pass to write. [default: annotations/passes/ANNOTATOR.jsonl]")
@click.option("--statements", "statement_files", multiple=True,
              help="Statements the tasks must show (JSONL, repeatable). [default: annotations/statements.jsonl "
              "and the pending statements]")
@pending_option
@force_option
@user_errors
def labelstudio_import(export, annotator, user, out, statement_files, pending_dir, force) -> None:
    """Turn a Label Studio JSON export into an annotation pass (for validate, agreement, adjudicate).

    Every task must show one of the statements given, unchanged. An existing pass with other
    records (e.g. annotations/passes/ANNOTATOR.jsonl) is replaced only with --force."""
    from stance.annotation.labelstudio import import_export
    from stance.annotation.passes import write_records

    files = [Path(f) for f in statement_files] or [
        p for p in [Path(STATEMENTS), *sorted(Path(pending_dir).glob("*.jsonl"))] if p.is_file()]
    if not files:
        raise StanceError(f"no statements to check the export against: neither {STATEMENTS} nor {pending_dir}/*.jsonl "
                          "(name them with --statements)")
    records, unanswered = import_export(export, annotator, user, statements=_read_statements(files))
    out = out or f"{PASSES}/{annotator}.jsonl"
    changed = write_records(records, out, replace=force)
    click.echo(f"{len(records)} annotations by {annotator} -> {out}" + ("" if changed else " (unchanged)")
               + (f" ({unanswered} tasks had none)" if unanswered else ""))


# --------------------------------------------------------------------------- active learning
def labelled_ids(extra: tuple[str, ...] = ()) -> set[str]:
    """Ids of every labelled statement: the gold files and passes that exist, and the ``extra``
    files (each must exist). A malformed line is an error, not a statement quietly offered again."""
    from stance.io import read_jsonl

    files = [Path(p) for p in (GOLD, WRITTEN_GOLD) if Path(p).is_file()] + sorted(Path(PASSES).glob("*.jsonl"))
    return {str(record["id"]) for path in [*files, *map(Path, extra)]
            for _, record in read_jsonl(path) if "id" in record}


@click.command("suggest")
@click.argument("statements", nargs=-1)
@click.option("-n", "count", default=20, show_default=True, help="How many statements to suggest.")
@click.option("--strategy", type=click.Choice(["margin", "entropy", "least_confident", "random"]), default="margin",
              show_default=True, help="Uncertainty measure on the model's probabilities.")
@click.option("--diverse", is_flag=True, help="Spread the batch: cluster the most uncertain (5 n) and take the most "
              "uncertain of each cluster.")
@pending_option
@click.option("--exclude", "exclude", multiple=True,
              help="More labelled files (JSONL, repeatable) whose statements are never suggested, besides "
              f"{GOLD}, {WRITTEN_GOLD} and every {PASSES}/*.jsonl, which are always excluded.")
@click.option("-m", "--model", "model_uri", default=CHAMPION_URI, show_default=True)
@tracking_uri_option
@click.option("--seed", default=0, show_default=True)
@click.option("--out", default=NEXT_BATCH, show_default=True, help="The next batch to label (JSONL).")
@force_option
@user_errors
def suggest(statements, count, strategy, diverse, pending_dir, exclude, model_uri, tracking_uri, seed, out,
            force) -> None:
    """Rank pending statements by the model's uncertainty and write the top N as the next batch.

    Statements already labelled (the gold files, every pass, --exclude) are never suggested. An
    existing --out with another batch (one being labelled?) is replaced only with --force."""
    import numpy as np

    from stance.annotation.active import select, uncertainty
    from stance.io import atomic_write_text, dumps_jsonl
    from stance.labels import LABELS
    from stance.serving.predict import classify

    labelled = labelled_ids(exclude)
    records = [r for r in _read_statements(_pending_files(statements, pending_dir)) if r["id"] not in labelled]
    if not records:
        raise StanceError("every pending statement is already labelled")
    predicted = classify([{"id": r["id"], "text": r["text"], "target": r.get("target")} for r in records],
                         model_uri, tracking_uri, progress=False)
    proba = np.array([[row[f"p_{label}"] for label in LABELS] for row in predicted])
    features = None
    if diverse:
        from sklearn.feature_extraction.text import TfidfVectorizer

        features = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True).fit_transform(
            [r["text"] for r in records]).toarray()
    chosen = select(proba, count, strategy, features=features, diverse=diverse, seed=seed)
    scores = uncertainty(proba, "margin" if strategy == "random" else strategy)
    batch = [{**records[k], "suggested_by": strategy + ("+diverse" if diverse else ""),
              "uncertainty": round(float(scores[k]), 4), "predicted": predicted[k]["label"]} for k in chosen]
    changed = atomic_write_text(out, dumps_jsonl(batch), replace=force)
    from stance.tables import rich_table

    console().print(rich_table(["id", "uncertainty", "predicted", "text"],
                               [[b["id"], f"{b['uncertainty']:.3f}", b["predicted"], b["text"][:70]] for b in batch],
                               title=f"next {len(batch)} of {len(records)} pending statements -> {out}"
                               + ("" if changed else " (unchanged)")))


@click.command("suggest-simulate")
@click.option("--gold", default=GOLD, show_default=True, help="Labelled article statements.")
@click.option("--written", default=WRITTEN_GOLD, show_default=True,
              help="Written statements (pool only); '' for none.")
@click.option("--repeats", default=10, show_default=True, help="Random starts to average over.")
@click.option("--start", default=20, show_default=True, help="Labels before the first suggestion.")
@click.option("--step", default=10, show_default=True, help="Labels added per round.")
@click.option("--budget", default=300, show_default=True, help="Labels at the end.")
@click.option("--out", "out_dir", default="experiments/active_learning", show_default=True)
@user_errors
def suggest_simulate(gold, written, repeats, start, step, budget, out_dir) -> None:
    """Simulate stance suggest against random order, leaving one article out; writes the page."""
    from stance.annotation.active_simulation import run
    from stance.data import load_corpus

    paths = [Path(gold)] + ([Path(written)] if written else [])
    frame = load_corpus(paths if len(paths) > 1 else paths[0])["train"].to_pandas()
    result = run(frame, out_dir, repeats=repeats, start=start, step=step, budget=budget)
    for strategy, saved in sorted(result["saved"].items()):
        if strategy != "random":
            click.echo(f"{strategy}: {'never reaches' if saved is None else f'{saved} labels fewer than'} "
                       "random order's final macro-F1")
    click.echo(f"wrote {Path(out_dir) / 'README.md'}, curve.png and results.csv")
