"""A report's markdown as one self-contained HTML page, charts and images embedded.

The markdown is rendered with markdown-it-py (CommonMark plus tables) with raw HTML
*off*: the reports escape user text already (``core.markdown``), and anything that still
looks like a tag is shown as text, never run. Images the markdown names (``map.png``) and
the charts are embedded as ``data:image/png;base64`` URIs, and the style sheet is inline,
so the page needs no other file and no network: it can be mailed or opened offline.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping, Sequence

from markdown_it import MarkdownIt

from hotspot.publish.charts import Chart

__all__ = ["CHARTS_HEADING", "chart_figures", "data_uri", "html_document", "markdown_html"]

#: The markdown heading under which the page shows the charts (appended when absent).
CHARTS_HEADING = "Charts"

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0;
       color: #1d2733; background: #fff; line-height: 1.45; }
main { max-width: 1040px; margin: 0 auto; padding: 1.5rem 2rem 3rem; }
h1 { font-size: 1.7rem; border-bottom: 2px solid #1d2733; padding-bottom: .3rem; }
h2 { font-size: 1.3rem; margin-top: 2rem; border-bottom: 1px solid #ccd3db; }
h3 { font-size: 1.1rem; } h4 { font-size: 1rem; }
table { border-collapse: collapse; margin: .6rem 0 1rem; font-size: .85rem; }
th, td { border: 1px solid #ccd3db; padding: .25rem .5rem; text-align: left; }
th { background: #eef2f6; } tr:nth-child(even) td { background: #f8fafc; }
code { background: #eef2f6; padding: 0 .2rem; border-radius: 3px; font-size: .9em; }
img { max-width: 100%; height: auto; }
figure { margin: 1rem 0 2rem; } figcaption { font-size: .85rem; color: #4a5866; }
"""


def data_uri(png: bytes) -> str:
    """``png`` as a ``data:image/png;base64,...`` URI."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _parser() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False}).enable("table")


def markdown_html(text: str, images: Mapping[str, bytes] | None = None) -> str:
    """The HTML body of markdown ``text``; an image whose source is a key of ``images``
    (e.g. ``map.png``) gets those PNG bytes inline instead of the file name."""
    parser = _parser()
    tokens = parser.parse(text)
    images = dict(images or {})
    for token in tokens:
        for child in token.children or ():
            if child.type == "image" and str(child.attrGet("src")) in images:
                child.attrSet("src", data_uri(images[str(child.attrGet("src"))]))
    return parser.renderer.render(tokens, parser.options, {})


def chart_figures(charts: Sequence[Chart]) -> str:
    """One ``<figure>`` per chart: the PNG inline, its title as alt text, the caption."""
    parts = []
    for chart in charts:
        parts.append(
            f'<figure id="{html.escape(chart.key)}">'
            f'<img src="{data_uri(chart.png)}" alt="{html.escape(chart.title)}">'
            f"<figcaption><strong>{html.escape(chart.title)}.</strong> "
            f"{html.escape(chart.caption)}</figcaption></figure>")
    return "\n".join(parts)


def html_document(markdown_text: str, *, title: str, charts: Sequence[Chart] = (),
                  images: Mapping[str, bytes] | None = None) -> str:
    """A whole HTML page of ``markdown_text`` with ``charts`` under its
    :data:`CHARTS_HEADING` heading (a new section at the end when it has none)."""
    body = markdown_html(markdown_text, images)
    figures = chart_figures(charts)
    heading = f"<h2>{CHARTS_HEADING}</h2>\n"
    if figures:
        if heading in body:
            # after the heading's own paragraph, which says what the charts are
            start = body.index(heading) + len(heading)
            end = body.find("</p>\n", start)
            cut = end + len("</p>\n") if body.startswith("<p>", start) and end >= 0 else start
            body = body[:cut] + figures + "\n" + body[cut:]
        else:
            body += heading + figures + "\n"
    return ("<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>{html.escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n"
            f"<body>\n<main>\n{body}</main>\n</body>\n</html>\n")
