"""A plugin that registers a second regularizer named ``none`` (an error)."""

import benchbench


class AnotherNone(benchbench.Regularizer):
    baseline = True
    name = "none"
    summary = "clashes with the built-in baseline"


@benchbench.hookimpl
def benchbench_register_components(registry):
    registry.add(AnotherNone)
