"""``stance explain``: each statement's label, probability and the words that moved it most.

Thin: it reads statements as ``stance predict`` does, calls :mod:`stance.serving.explanations`
and prints a table, JSONL, or writes a JSONL file or an HTML page.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from stance.cli.options import console, force_option, precision_option, tracking_uri_option, user_errors
from stance.errors import StanceError
from stance.tracking.store import CHAMPION_URI


@click.command("explain")
@click.argument("statements", nargs=-1)
@click.option("-i", "--input", "input_path", help="File of statements: .txt (one a line), .csv/.tsv or .jsonl "
              "with a text column; '-' reads standard input.")
@click.option("--article", default=None, help="A new article (plain text), split into statements as "
              "'stance predict --article' splits it.")
@click.option("-m", "--model", "model_uri", default=None,
              help=f"Any MLflow model URI (runs:/..., models:/NAME@ALIAS). [default: {CHAMPION_URI}]")
@tracking_uri_option
@click.option("--target", default=None, help="Target for statements that have none.")
@click.option("--text-column", default="text", show_default=True)
@click.option("--target-column", default="target", show_default=True)
@click.option("--input-format", type=click.Choice(["text", "csv", "tsv", "jsonl"]), default=None,
              help="Format of the input (default: from the file suffix; standard input is plain text).")
@click.option("--method", type=click.Choice(["auto", "occlusion", "linear"]), default="auto", show_default=True,
              help="occlusion: the fall of the label's probability without each word (any model); linear: exact "
              "contributions of a linear TF-IDF model; auto: linear where the model is one, else occlusion.")
@click.option("--top", "top", type=click.IntRange(min=0), default=5, show_default=True,
              help="Words shown per statement (0: all).")
@click.option("--span", type=click.IntRange(min=1), default=1, show_default=True,
              help="Occlusion: remove this many consecutive words at a time.")
@click.option("-f", "--format", "fmt", type=click.Choice(["table", "jsonl"]), default="table", show_default=True,
              help="What to print when there is no --output or --html.")
@click.option("-o", "--output", default=None, help="Write a .jsonl file (one explanation a line) instead of printing.")
@click.option("--html", "html", default=None, help="Write one self-contained .html page with the words highlighted.")
@force_option
@precision_option
@click.option("--mlflow", "through_mlflow", is_flag=True, help="Load the model through MLflow, not its lean artefact.")
@user_errors
def explain_command(statements, input_path, article, model_uri, tracking_uri, target, text_column, target_column,
                    input_format, method, top, span, fmt, output, html, force, precision, through_mlflow) -> None:
    """Explain predictions: per statement the label, its probability and the words that moved it
    most, signed (positive: towards the predicted label)."""
    import logging

    from stance.experiment.jobs import quiet_libraries
    from stance.serving.explanations import article_rows, explain, explanations_table, jsonl_text, write_explanations
    from stance.serving.rows import read_statements

    quiet_libraries()
    logging.basicConfig(level=logging.WARNING, format="warning: %(message)s")
    if sum(map(bool, (statements, input_path, article))) > 1:
        raise StanceError("give statements as arguments, with --input or with --article: one of them")
    for path, suffixes in ((output, (".jsonl", ".ndjson")), (html, (".html", ".htm"))):
        if path and Path(path).suffix.lower() not in suffixes:
            raise StanceError(f"must end in {' or '.join(suffixes)}", path=path)
        if path and Path(path).exists() and not force:
            raise StanceError("the output file exists: add --force to replace it", path=path)
    options = dict(target=target, text_column=text_column, target_column=target_column, fmt=input_format)
    if article:
        rows = article_rows(article, target)
    elif input_path == "-" or (not statements and not input_path and not sys.stdin.isatty()):
        rows = read_statements(data=sys.stdin.buffer.read(), name="<stdin>", **options).rows
    elif input_path:
        rows = read_statements(path=input_path, **options).rows
    elif statements:
        rows = read_statements(statements, target=target).rows
    else:
        raise StanceError("no statements: give them as arguments, with --input FILE, with --article, "
                          "or on standard input")
    uri = model_uri or CHAMPION_URI
    records = explain(rows, uri, tracking_uri, method=method, span=span, lean=not through_mlflow,
                      precision=precision)
    for path in (output, html):
        if path:
            write_explanations(records, path, top, title=f"Explanations: {uri}")
            click.echo(f"{len(records)} explanations -> {path}", err=True)
    if output or html:
        return
    if fmt == "jsonl":
        click.echo(jsonl_text(records, top), nl=False)
    else:
        console().print(explanations_table(records, top))
