"""Built-in tasks: datasets that ship in a package or are generated offline."""

import benchbench

from .digits import Digits
from .mnist1d import MNIST1D


@benchbench.hookimpl
def benchbench_register_components(registry):
    for task in (Digits, MNIST1D):
        registry.add(task)
