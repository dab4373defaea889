"""Built-in regularizers: how a labeled batch becomes a loss."""

import benchbench

from .basic import LabelSmoothing, NoRegularizer


@benchbench.hookimpl
def benchbench_register_components(registry):
    for regularizer in (NoRegularizer, LabelSmoothing):
        registry.add(regularizer)
