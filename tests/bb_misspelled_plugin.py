"""A plugin whose hook name is misspelled: it must be reported, not silently ignored."""

import benchbench


@benchbench.hookimpl
def benchbench_register_component(registry):  # missing the final "s"
    pass
