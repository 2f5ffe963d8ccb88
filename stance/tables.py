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


#: What a terminal must never be sent raw from data: C0 and C1 controls but tab and newline
#: (ESC starts ANSI sequences, CR overwrites a line), DEL, the Unicode line and paragraph
#: separators and the bidirectional overrides (text that reads one way and prints another).
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def visible(value: object) -> str:
    """``value`` as text safe to print: each control character as its visible escape
    (ESC as the four characters ``\\x1b``, U+2028 as ``\\u2028``)."""
    def escape(match: re.Match) -> str:
        code = ord(match.group())
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"

    return _UNSAFE.sub(escape, str(value))


def rich_table(header: list[str], rows: list[list[str]], title: str = "", left: int = 1,
               rule_before_last: bool = False, justify: list[str] | None = None):
    """A rich Table: the first ``left`` columns left-aligned, the others right-aligned (or one
    ``justify`` entry per column); ``rule_before_last`` sets a totals row apart.

    Every cell, header and title is plain text: control characters are shown escaped
    (:func:`visible`) and rich markup such as ``[bold]`` prints as it is written."""
    from rich.table import Table
    from rich.text import Text

    justify = justify or ["left" if k < left else "right" for k in range(len(header))]
    table = Table(title=Text(visible(title)) if title else None)
    for name, side in zip(header, justify):
        table.add_column(Text(visible(name)), justify=side)
    for k, row in enumerate(rows):
        table.add_row(*(Text(visible(cell)) for cell in row), end_section=rule_before_last and k == len(rows) - 2)
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
