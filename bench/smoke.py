"""``--smoke`` for every script of ``bench/``: its smallest settings, so that a change that
breaks a benchmark fails CI (``tests/test_bench.py`` runs each so, in seconds). Figures from
a smoke run mean nothing; the defaults are what the figures in the notes come from."""

from __future__ import annotations

import argparse
from typing import Any


def parse(parser: argparse.ArgumentParser, **smallest: Any) -> argparse.Namespace:
    """The script's arguments; with ``--smoke``, ``smallest`` replaces what it names."""
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="The smallest settings (seconds): checks that the script runs; no figures.",
    )
    args = parser.parse_args()
    if args.smoke:
        for name, value in smallest.items():
            setattr(args, name, value)
    return args
