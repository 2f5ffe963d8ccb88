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
