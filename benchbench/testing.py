"""benchbench's pytest plugin for plugin authors (entry point ``pytest11``): the stable import
path of :mod:`benchbench.authoring.testing`, where its hooks and fixtures live."""

from .authoring.testing import (  # noqa: F401 (pytest finds hooks and fixtures by name)
    INI,
    benchbench_cluster,
    benchbench_jobs,
    benchbench_placement,
    benchbench_pm,
    benchbench_run,
    drain,
    pytest_addoption,
    pytest_generate_tests,
)
