"""Checks of the built site that Sphinx's strict mode cannot make: in the command reference,
no option name rendered with an en dash ("–partition" for "--partition", what smart quotes
do to two hyphens) and no metavar cut short. Run after the build, as CI does::

    python docs/check_site.py docs/_build/html
"""

from __future__ import annotations

import html
import re
import sys
from pathlib import Path


def problems(site: Path) -> list[str]:
    """What is wrong with the built command reference, one line each."""
    page = site / "reference" / "cli.html"
    if not page.is_file():
        return [f"{page} was not built"]
    text = html.unescape(re.sub(r"<[^>]+>", "", page.read_text()))
    found = [
        f"en dash in an option: {m}" for m in sorted(set(re.findall(r"[–—][a-z][\w-]*", text)))
    ]
    options = set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]+", text))
    if len(options) < 40:
        found.append(f"only {len(options)} options found in {page}: was the page rendered?")
    found += [f"unbalanced metavar: {m}" for m in re.findall(r"<[A-Z_:]*\[[^\]>]*>", text)]
    return found


if __name__ == "__main__":
    listed = problems(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/_build/html"))
    for line in listed:
        print(f"docs: {line}", file=sys.stderr)
    sys.exit(1 if listed else 0)
