"""The built-in suites: ``quick`` (under a minute on 2 CPU cores) and ``default``."""

from pathlib import Path

import benchbench

HERE = Path(__file__).parent


@benchbench.hookimpl
def benchbench_register_suites(registry):
    for path in sorted(HERE.glob("*.toml")):
        registry.add_suite(path)
