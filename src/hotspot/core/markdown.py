"""Markdown for reports: every table cell and user string escaped in one place.

Ward names, crime categories and file names come from user data; raw, a ``|`` splits a
table cell, a newline ends the table and ``<script>`` is live HTML in many markdown
viewers. Every report that writes a table goes through :func:`markdown_table`.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Any


def escape_text(value: Any) -> str:
    """``value`` as inline markdown text: HTML escaped, line breaks made spaces."""
    text = html.escape(str(value), quote=False)
    return " ".join(text.splitlines()) if ("\n" in text or "\r" in text) else text


def escape_cell(value: Any) -> str:
    """``value`` as one markdown table cell: :func:`escape_text`, backslashes and pipes
    escaped so the cell stays one cell."""
    return escape_text(value).replace("\\", "\\\\").replace("|", "\\|")


def markdown_table(header: Sequence[Any], rows: Sequence[Sequence[Any]], *,
                   raw: Sequence[int] = ()) -> list[str]:
    """Lines of a markdown table; every cell escaped except columns in ``raw`` (our own
    markup, e.g. ``**bold**`` around an already escaped name)."""
    def line(cells: Sequence[Any], keep: Sequence[int]) -> str:
        return "| " + " | ".join(str(c) if i in keep else escape_cell(c)
                                 for i, c in enumerate(cells)) + " |"

    return [line(header, ()), "|" + "|".join("---" for _ in header) + "|",
            *(line(row, raw) for row in rows)]


def frame_table(frame: Any, *, digits: int | None = None) -> list[str]:
    """:func:`markdown_table` of a DataFrame's columns and rows; with ``digits``, floats are
    written with that many decimals and missing or infinite ones left blank."""
    def cell(value: Any) -> Any:
        if digits is None or not isinstance(value, float):
            return value
        return f"{value:.{digits}f}" if math.isfinite(value) else ""

    return markdown_table(list(frame.columns),
                          [[cell(v) for v in row] for row in frame.itertuples(index=False)])
