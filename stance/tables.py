"""Tables for Markdown pages and the terminal, and the generated sections of Markdown pages.

A leaf module: every table the package prints or writes is built here, from a header and
rows of cells, so that the terminal and the files show the same thing.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from stance.errors import StanceError


def markdown_table(header: list[str], rows: list[list[str]], align: list[str] | None = None) -> str:
    """A GitHub Markdown table; ``align`` defaults to the first column left, the others right."""
    align = align or ["---"] + ["---:"] * (len(header) - 1)
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def rich_table(header: list[str], rows: list[list[str]], title: str = "", left: int = 1, rule_before_last: bool = False,
               justify: list[str] | None = None):
    """A rich Table: the first ``left`` columns left-aligned, the others right-aligned (or one
    ``justify`` entry per column); ``rule_before_last`` sets a totals row apart."""
    from rich.table import Table

    justify = justify or ["left" if k < left else "right" for k in range(len(header))]
    table = Table(title=title or None)
    for name, side in zip(header, justify):
        table.add_column(name, justify=side)
    for k, row in enumerate(rows):
        table.add_row(*row, end_section=rule_before_last and k == len(rows) - 2)
    return table


def print_rich(table, width: int = 200) -> None:
    """Print a rich Table to standard output; ``width`` applies when the output is not a terminal."""
    from rich.console import Console

    Console(highlight=False, width=None if sys.stdout.isatty() else width).print(table)


def replace_section(current: str, section: str, begin: str, end: str, path: str | Path | None = None) -> str:
    """``current`` with the text between the ``begin`` and ``end`` marker lines replaced by ``section``."""
    if begin not in current or end not in current:
        raise StanceError(f"no generated section: add the lines '{begin}' and '{end}'", path=path)
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.DOTALL)
    return pattern.sub(lambda _: f"{begin}\n\n{section.strip()}\n\n{end}", current, count=1)
