"""What every command module shares: the project's path defaults, the options several commands
take (one declaration each), one-line user errors and the terminal console."""

from __future__ import annotations

import functools
import sys

import click

from stance.errors import StanceError

#: Where a project keeps its files (paths relative to the folder the command runs in).
ARTICLES = "seeds"
STATEMENTS = "annotations/statements.jsonl"
GOLD = "annotations/gold.jsonl"
PASSES = "annotations/passes"
PASS_A = f"{PASSES}/annotator-a.jsonl"
PASS_B = f"{PASSES}/annotator-b.jsonl"
DECISIONS = "annotations/adjudication.csv"
DATASHEET = "annotations/README.md"
WRITTEN = "annotations/written"
WRITTEN_GOLD = f"{WRITTEN}/gold.jsonl"
AUDIT = "annotations/audit.csv"
GUIDELINES = "annotations/GUIDELINES.md"
PENDING = "annotations/pending"
NEXT_BATCH = "annotations/batches/next.jsonl"


def tracking_uri_option(func):
    """``--tracking-uri``: the MLflow store (default: ``$MLFLOW_TRACKING_URI``, else ``sqlite:///mlflow.db``)."""
    return click.option("--tracking-uri", default=None,
                        help="MLflow store. [default: $MLFLOW_TRACKING_URI or sqlite:///mlflow.db]")(func)


def articles_option(func):
    """``--articles``: the folder of source articles (``*.txt``)."""
    return click.option("--articles", "articles_dir", default=ARTICLES, show_default=True,
                        help="Folder of source articles (*.txt).")(func)


def pending_option(func):
    """``--pending``: the folder of statements waiting for labels."""
    return click.option("--pending", "pending_dir", default=PENDING, show_default=True,
                        help="Folder of statements waiting for labels.")(func)


def force_option(func):
    """``--force``: replace an output file that holds other content (labels are never replaced silently)."""
    return click.option("--force", is_flag=True,
                        help="Replace the output file if it exists with other content (without it: an error, "
                        "nothing written; an identical file is left as it is).")(func)


def precision_option(func):
    """``--precision``: which copy of the model's ONNX graphs the lean path runs
    (:mod:`stance.serving.precision`); ``--int8``, hidden, is kept as ``--precision int8``."""
    from stance.serving.precision import CHOICES

    @functools.wraps(func)
    def wrapper(*args, int8: bool = False, precision: str = "auto", **kwargs):
        if int8 and precision not in ("auto", "int8"):
            raise click.UsageError(f"--int8 and --precision {precision} disagree: give one")
        return func(*args, precision="int8" if int8 else precision, **kwargs)

    wrapper = click.option("--int8", is_flag=True, hidden=True, help="Same as --precision int8.")(wrapper)
    return click.option("--precision", type=click.Choice(CHOICES), default="auto", show_default=True,
                        help="Which copy of the model's ONNX graphs to run: fp32; w8 (8-bit weights: starts in "
                        "half the time and memory; close calls may change: 6 of 329 dev labels for the "
                        "champion); int8 (int8 arithmetic, sentence encoders only, labels may differ); auto: "
                        "w8 for up to 64 statements, else fp32.")(wrapper)


def console():
    from rich.console import Console

    return Console(highlight=False)


def user_errors(func):
    """Turn a StanceError into one line on stderr and exit status 2 (no traceback)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except StanceError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)

    return wrapper
