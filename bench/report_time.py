"""How long ``benchbench report`` takes on a results database (the target: under 30 s on
the default leaderboard's database on a 2-core CPU).

Times, each a fresh process (median of ``--repeats``): the HTML report, and HTML plus
Markdown with PNG files (``--format both``), written to a temporary folder.

Run: ``python bench/report_time.py --out . --suite default [--repeats 3]`` (``--out``: the
folder holding benchbench.db).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from smoke import parse


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=".")
    parser.add_argument("--suite", default="default")
    parser.add_argument("--repeats", type=int, default=3)
    args = parse(parser, repeats=1)
    exe = shutil.which("benchbench") or "benchbench"
    with tempfile.TemporaryDirectory() as folder:
        for fmt in ("html", "both"):
            seconds = []
            for _ in range(args.repeats):
                to = Path(folder) / fmt / f"{args.suite}.html"
                started = time.perf_counter()
                subprocess.run(
                    [
                        exe,
                        "report",
                        args.suite,
                        "--out",
                        args.out,
                        "--format",
                        fmt,
                        "--to",
                        str(to),
                    ],
                    check=True,
                    capture_output=True,
                )
                seconds.append(time.perf_counter() - started)
            median = statistics.median(seconds)
            print(f"report --format {fmt:<5} {median:6.1f} s (median of {len(seconds)})")


if __name__ == "__main__":
    main()
