"""Sections of a report rendered to a self-contained HTML page (figures inline as SVG) or
to Markdown with PNG files beside it, from Jinja2 templates: every string from a plugin or
a suite file is escaped (autoescape in HTML, a filter in Markdown)."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from . import figures


@dataclass
class Table:
    caption: str
    header: list[str]
    rows: list[list[str]]


@dataclass
class Figure:
    """A caption and how to draw the figure (a callable returning a matplotlib figure, or
    None when there is nothing to show): drawn, written and closed one at a time."""

    caption: str
    draw: Callable[[], Any]
    svg: str = ""
    png: str = ""


@dataclass
class Section:
    """A titled part of the report: a sentence on what it shows, its tables and figures,
    and subsections (a track's tasks, its across-task statistics)."""

    title: str
    intro: str = ""
    tables: list[Table] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    anchor: str = ""


def _markdown_escape(text: Any) -> str:
    """Text safe in a Markdown table or paragraph: HTML and table syntax neutralised."""
    return html.escape(str(text), quote=False).replace("|", "\\|").replace("\n", " ")


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("benchbench.reporting", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["md"] = _markdown_escape
    return env


def anchor(text: str) -> str:
    """The id GitHub gives a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")


def write(
    sections: list[Section],
    title: str,
    stamp: list[str],
    html_path: Path | None = None,
    markdown_path: Path | None = None,
) -> list[Path]:
    """Write the report as a self-contained HTML file and/or as Markdown whose PNG files go
    to the folder ``<stem>_files`` beside it; each figure is drawn once for both. Returns
    the files written."""
    assets = markdown_path.parent / f"{markdown_path.stem}_files" if markdown_path else None
    number = 0
    for section in sections:
        section.anchor = section.anchor or anchor(section.title)
        drawn = []
        for item in section.figures:
            figure = item.draw()
            if figure is None:
                continue
            number += 1
            if assets is not None:
                assets.mkdir(parents=True, exist_ok=True)
                name = f"figure-{number:03d}.png"
                figures.save_png(figure, assets / name)
                item.png = f"{assets.name}/{name}"
            if html_path is not None:
                item.svg = figures.svg(figure)
            figures.close(figure)
            drawn.append(item)
        section.figures = drawn
    env = _environment()
    made = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    written = []
    for path, name in ((html_path, "report.html.j2"), (markdown_path, "report.md.j2")):
        if path is None:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        text = env.get_template(name).render(title=title, stamp=stamp, made=made, sections=sections)
        path.write_text(text)
        written.append(path)
    return written
