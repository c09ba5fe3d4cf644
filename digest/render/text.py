"""Plain-text helpers for the text twin: wrapping near 72 columns, tidying blank lines."""

from __future__ import annotations

import re
import textwrap

TEXT_WIDTH = 72
_BLANK_RUNS = re.compile(r"\n{3,}")


def wrap(text: str, width: int = TEXT_WIDTH, first: str = "", indent: str = "") -> str:
    """Wrap one paragraph; `first` starts the first line (a bullet), `indent` the others.

    Long words (URLs) are never broken: a link that is longer than the line
    stays whole and clickable.
    """
    return textwrap.fill(
        " ".join(str(text).split()), width=width, initial_indent=first, subsequent_indent=indent,
        break_long_words=False, break_on_hyphens=False,
    )


def rule(char: str = "-", width: int = TEXT_WIDTH) -> str:
    return char * width


def tidy(text: str) -> str:
    """Strip trailing spaces, keep at most one blank line in a row, end with one newline."""
    lines = [line.rstrip() for line in text.splitlines()]
    return _BLANK_RUNS.sub("\n\n", "\n".join(lines)).strip("\n") + "\n"
