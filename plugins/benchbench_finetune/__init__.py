"""Built-in fine-tune strategies: which parameters learn, how fast and when."""

import benchbench

from .strategies import SVM, DiscriminativeLR, Full, GradualUnfreeze, LastK, LinearProbe, Scratch


@benchbench.hookimpl
def benchbench_register_components(registry):
    for strategy in (Full, LinearProbe, LastK, DiscriminativeLR, GradualUnfreeze, SVM, Scratch):
        registry.add(strategy)
