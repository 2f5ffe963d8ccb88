"""Applying a model: ``stance predict`` (statements, files, articles, Spark) and ``stance serve``.

Thin commands: they parse, call :mod:`stance.serving.predict`, :mod:`stance.serving.spark` or
:mod:`stance.serving.server`, and print.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from stance.tracking.store import CHAMPION_URI
from stance.cli.options import (
    ARTICLES, console, precision_option,
    tracking_uri_option, user_errors,
)
from stance.errors import StanceError


@click.command("predict")
@click.argument("statements", nargs=-1)
@click.option("-i", "--input", "input_path", help="File of statements: .txt (one a line), .csv/.tsv or .jsonl "
              "with a text column (its other columns are copied to the output); '-' reads standard input.")
@click.option("--article", "article", default=None, help="A new article (plain text): split into statements as the "
              "corpus is, each classified with its span, plus a summary per label and holder.")
@click.option("--articles", "articles_dir", default=ARTICLES, show_default=True, help="With --article: the seeds "
              "folder of 'stance corpus add'; an article listed there (same bytes) gets its document, date and URL.")
@click.option("--date", default=None, help="With --article: the article's date (YYYY-MM-DD), for one not in the corpus.")
@click.option("--url", default=None, help="With --article: the article's URL, for one not in the corpus.")
@click.option("-m", "--model", "model_uri", default=None, help="Any MLflow model URI (runs:/..., models:/NAME@ALIAS). "
              f"[default: {CHAMPION_URI}]")
@tracking_uri_option
@click.option("--target", default=None, help="Target for statements that have none.")
@click.option("--text-column", default="text", show_default=True)
@click.option("--target-column", default="target", show_default=True)
@click.option("--input-format", type=click.Choice(["text", "csv", "tsv", "jsonl", "parquet"]), default=None,
              help="Format of the input (default: from the file suffix; standard input is plain text; "
              "parquet: with --spark).")
@click.option("--prior-shift", default=None, help="Correct for a label mix other than the training mix: 'em' "
              "(estimated from the statements given) or e.g. 'support=0.2,oppose=0.5,neutral=0.3'.")
@click.option("-o", "--output", default=None, help="Write a .csv or .jsonl file instead of printing.")
@click.option("--force", is_flag=True, help="Let --output replace an existing file.")
@click.option("-f", "--format", "fmt", type=click.Choice(["table", "csv", "jsonl"]), default="table",
              show_default=True, help="What to print when there is no --output.")
@precision_option
@click.option("--mlflow", "through_mlflow", is_flag=True, help="Load the model through MLflow instead of its lean "
              "artefact (slower to start; any model family).")
@click.option("--spark", "spark", is_flag=True, help="Score a large file on Spark: the two arguments are INPUT (.csv, "
              ".tsv, .parquet or a folder of Parquet) and OUTPUT (a Parquet folder, written atomically), e.g. "
              "'stance predict --spark in.parquet out.parquet'. Under spark-submit: python -m stance.serving.spark.")
@click.option("--spark-master", default=None, help="Spark master with --spark. [default: local[2]; spark-submit's]")
@click.option("--spark-engine", type=click.Choice(["lean", "pyfunc"]), default="lean", show_default=True,
              help="With --spark: the lean model in mapInPandas, or mlflow.pyfunc.spark_udf.")
@click.option("--partitions", type=click.IntRange(min=1), default=None, help="With --spark: partitions to score "
              "in. [default: the input's, at least one per core]")
@user_errors
def predict_command(statements, input_path, article, articles_dir, date, url, model_uri, tracking_uri, target, text_column, target_column,
                    input_format, prior_shift, output, force, fmt, precision, through_mlflow, spark, spark_master,
                    spark_engine, partitions) -> None:
    """Classify statements given as arguments, in a file, or on standard input.

    The model is read from its lean artefact (ONNX encoder and plain arrays, built once per
    model version and checked against the store), so a cold start takes about a second;
    a family without a lean form loads through MLflow, with a notice.

    With --spark, the two arguments are INPUT (CSV, TSV or Parquet, millions of rows) and OUTPUT:
    scored on Spark into Parquet, one summary line printed (see stance/serving/spark.py for spark-submit).
    """
    import logging

    from stance.serving.predict import classify
    from stance.serving.rows import read_statements
    from stance.experiment.jobs import quiet_libraries

    quiet_libraries()
    logging.basicConfig(level=logging.WARNING, format="warning: %(message)s")
    if (date or url) and not article:
        raise StanceError("--date and --url go with --article")
    if spark:
        given = {"--input": input_path, "--article": article, "--output": output, "--prior-shift": prior_shift,
                 "--mlflow": through_mlflow, "--format": fmt != "table"}
        _predict_spark(statements, [name for name, value in given.items() if value], model_uri=model_uri or
                       CHAMPION_URI, tracking_uri=tracking_uri, master=spark_master, text_column=text_column,
                       target_column=target_column, target=target, precision=precision,
                       partitions=partitions, force=force, engine=spark_engine, input_format=input_format)
        return
    if input_format == "parquet" or spark_master or partitions:
        raise StanceError("--input-format parquet, --spark-master and --partitions go with --spark")
    options = dict(target=target, text_column=text_column, target_column=target_column, fmt=input_format)
    if sum(map(bool, (statements, input_path, article))) > 1:
        raise StanceError("give statements as arguments, with --input or with --article: one of them")
    if output and Path(output).exists() and not force:
        raise StanceError("the output file exists: add --force to replace it", path=output)
    if article:
        _predict_article(article, model_uri, tracking_uri, target, output, fmt, precision, through_mlflow,
                         articles_dir=articles_dir, date=date, url=url)
        return
    if input_path == "-" or (not statements and not input_path and not sys.stdin.isatty()):
        given = read_statements(data=sys.stdin.buffer.read(), name="<stdin>", **options)
    elif input_path:
        given = read_statements(path=input_path, **options)
    elif statements:
        given = read_statements(statements, target=target)
    else:
        raise StanceError("no statements: give them as arguments, with --input FILE, or on standard input")
    if given.blank:
        click.echo(f"skipped {given.blank} blank statement(s)", err=True)
    from stance.evaluation.prior_shift import parse_mix

    table = classify(given.rows, model_uri or CHAMPION_URI, tracking_uri,
                     prior_shift=parse_mix(prior_shift) if prior_shift else None, lean=not through_mlflow,
                     precision=precision)
    columns = None
    if given.extra_columns:  # a table input's other columns (date, holder, url ...) follow the predictions
        from stance.serving.output import pass_through

        table, columns = pass_through(table, given.extra_columns, given.extra)
    _emit(table, output, fmt, columns)


def _emit(rows: list[dict], output, fmt: str, columns: list[str] | None = None) -> None:
    """Predictions to ``output`` (CSV/JSONL), or to the terminal as CSV/JSONL text or a table."""
    from stance.serving.output import predictions_table, write_predictions

    text = write_predictions(rows, output, fmt, **({"columns": columns} if columns else {}))
    if output:
        click.echo(f"{len(rows)} predictions -> {output}", err=True)
    elif text is not None:
        click.echo(text, nl=False)
    else:
        console().print(predictions_table(rows))


def _predict_spark(paths: tuple[str, ...], unused: list[str], **options) -> None:
    """``stance predict --spark INPUT OUTPUT``: score on Spark (:mod:`stance.serving.spark`), print one summary line."""
    from stance.serving.spark import score_spark, summary

    if unused:
        raise StanceError(f"--spark takes INPUT and OUTPUT as its two arguments: drop {', '.join(unused)}")
    if len(paths) != 2:
        raise StanceError(f"--spark needs two arguments, INPUT and OUTPUT (got {len(paths)})")
    click.echo(summary(score_spark(*paths, **options)), err=True)


def _predict_article(article, model_uri, tracking_uri, target, output, fmt, precision, through_mlflow,
                     **where) -> None:
    from stance.serving.output import ARTICLE_COLUMNS, summary_table
    from stance.serving.predict import classify_article

    rows, summary = classify_article(article, model_uri or CHAMPION_URI, tracking_uri, target,
                                     lean=not through_mlflow, precision=precision, **where)
    _emit(rows, output, fmt, columns=ARTICLE_COLUMNS)
    Console = type(console())
    Console(stderr=True, highlight=False).print(summary_table(summary))


@click.command("serve")
@click.option("-m", "--model", "model_uri", default=None, help=f"Any MLflow model URI. [default: {CHAMPION_URI}]")
@tracking_uri_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0: every interface).")
@click.option("-p", "--port", default=8080, show_default=True, type=int)
@precision_option
@click.option("--mlflow", "through_mlflow", is_flag=True, help="Load the model through MLflow, not its lean artefact.")
@click.option("--reload-every", type=click.FloatRange(min=0), default=60, show_default=True,
              help="Serving models:/NAME@ALIAS: check the alias every this many seconds and load the new version "
              "when it moves (0: never; pin a version with models:/NAME/VERSION).")
@click.option("--workers", type=click.IntRange(min=1), default=2, show_default=True,
              help="Requests scored at once (each in its own thread); more wait in a bounded queue.")
@click.option("--timeout", "read_timeout", type=click.FloatRange(min=0.1), default=10, show_default=True,
              help="Seconds a client has to send a request's head, and its body, before it is cut off.")
@user_errors
def serve_command(model_uri, tracking_uri, host, port, precision, through_mlflow, reload_every, workers,
                  read_timeout) -> None:
    """Serve a model over HTTP: GET /health, POST /predict with {"statements": [{"text": ...}, ...]}."""
    import logging

    from stance.serving.predict import load
    from stance.experiment.jobs import quiet_libraries
    from stance.serving.server import Limits, Server, Service, following, make_app, resolve_version
    from stance.tracking.store import default_tracking_uri

    quiet_libraries()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    uri, tracking_uri = model_uri or CHAMPION_URI, tracking_uri or default_tracking_uri()
    from stance.serving.precision import resolve

    lean, precision = not through_mlflow, resolve(precision)  # auto: fp32 (a server scores for long)
    try:
        version, run_id = resolve_version(uri, tracking_uri)
    except StanceError:  # an unknown URI: loading it says so, listing what is registered
        version = run_id = None
    name = following(uri)  # load the version just read, so /health names the model served
    model = load(f"models:/{name}/{version}" if name and version else uri, tracking_uri, lean=lean, precision=precision)
    limits = Limits(workers=workers, read_timeout=read_timeout)
    service = Service(model, uri, tracking_uri, lean, precision, version, run_id)
    app = make_app(model, uri, tracking_uri, reload_every=reload_every, lean=lean, precision=precision,
                   limits=limits, service=service)
    try:
        server = Server(app, host, port, limits)
    except OSError as exc:
        raise StanceError(f"cannot listen on {host}:{port} ({exc.strerror or exc})") from None
    shown = f"version {version}, " if version else ""
    click.echo(f"serving {uri} ({shown}{model.how}) on http://{host}:{server.port}  "
               "(GET /health, POST /predict; Ctrl-C stops)", err=True)
    server.run_until_interrupted()
