"""Every example of the README and docs/ runs: each ``python`` block as a script in a fresh
process (no main guard, as a reader would paste it), each ``bash``/``sh`` block in bash with
``-e``, the blocks of one page in order in one folder (a later block reads what an earlier
one made). A block may say, in an HTML comment on the line above its fence, how it runs:

- ``<!-- not run: REASON -->``: left out, with the reason (it installs, needs a cluster...);
- ``<!-- run with: OLD => NEW; ... -->``: run with these replacements (smaller budgets);
- ``<!-- file: NAME -->`` above a TOML, YAML or JSON block: written to NAME for the blocks
  after it (a suite file the next block runs).

End to end (``-m e2e``): the pages train what they show, a few minutes in all."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
RUNNABLE = ("python", "bash", "sh")
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
BLOCK = re.compile(
    r"(?:^<!-- (?P<how>not run|run with|file): (?P<what>.*?) -->\n)?"
    r"^```(?P<lang>python|bash|sh|toml|yaml|json)\n(?P<code>.*?)^```",
    re.S | re.M,
)


def blocks(page: Path) -> list[tuple[int, str, str | None, str | None, str]]:
    """(line, language, how, what, code) of every runnable block of ``page``."""
    text = page.read_text()
    return [
        (text[: m.start("lang")].count("\n") + 1, m["lang"], m["how"], m["what"], m["code"])
        for m in BLOCK.finditer(text)
        if m["lang"] in RUNNABLE or m["how"] == "file"
    ]


def substituted(code: str, what: str) -> str:
    """``code`` with the block's ``OLD => NEW`` replacements, each of which must apply."""
    for pair in what.split(";"):
        old, _, new = (part.strip() for part in pair.partition("=>"))
        assert old in code, f"'run with' replaces {old!r}, which the block does not hold"
        code = code.replace(old, new)
    return code


def test_every_block_runs_or_says_why_not():
    found = [
        (page, b)
        for page in PAGES
        if "_build" not in page.parts
        for b in blocks(page)
        if b[1] in RUNNABLE
    ]
    assert len(found) >= 25
    for page, (line, _, how, what, _) in found:
        if how == "not run":
            assert len(what.split()) >= 3, f"{page.name}:{line}: say why it is not run"


RUN = [page for page in PAGES if "_build" not in page.parts and blocks(page)]


@pytest.mark.e2e
@pytest.mark.parametrize("page", RUN, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_examples_of_a_page_run(page, tmp_path, data_dir):
    env = {
        **os.environ,
        "BENCHBENCH_DATA": str(data_dir),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": os.pathsep.join([str(ROOT / "tests"), os.environ.get("PYTHONPATH", "")]),
        "OMP_NUM_THREADS": "1",
    }
    (tmp_path / "leaderboards").symlink_to(ROOT / "leaderboards")  # what pages read from it
    for line, lang, how, what, code in blocks(page):
        if how == "not run":
            continue
        if how == "file":
            (tmp_path / what).write_text(code)
            continue
        if how == "run with":
            code = substituted(code, what)
        if lang == "python":
            script = tmp_path / f"block_{line}.py"
            script.write_text(code)
            command = [sys.executable, str(script)]
        else:
            command = ["bash", "-euo", "pipefail", "-c", code]
        done = subprocess.run(
            command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900
        )
        assert done.returncode == 0, (
            f"{page.name}:{line} ({lang}) exited {done.returncode}:\n"
            f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        )
        assert "Traceback" not in done.stderr, f"{page.name}:{line}:\n{done.stderr[-3000:]}"
