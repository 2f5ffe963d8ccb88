"""What every command module shares: one-line user errors and the terminal console."""

from __future__ import annotations

import functools
import sys

import click

from stance.errors import StanceError


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
