"""Built-in optimizers: AdamW and Nesterov SGD (the loop's two before optimizers were
components, with their numbers), Lion, SAM, Lookahead, schedule-free AdamW and Muon."""

import benchbench

from .basic import SGD, AdamW, Lion
from .muon import Muon
from .schedule_free import ScheduleFree
from .wrappers import SAM, Lookahead


@benchbench.hookimpl
def benchbench_register_components(registry):
    for optimizer in (AdamW, SGD, Lion, SAM, Lookahead, ScheduleFree, Muon):
        registry.add(optimizer)
