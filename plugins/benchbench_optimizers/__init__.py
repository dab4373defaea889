"""Built-in optimizers: AdamW and Nesterov SGD (the loop's two before optimizers were
components, with their numbers), Lion, SAM, Lookahead, schedule-free AdamW and Muon; and
two weight averages over any of them, EMA and SWA, evaluated in place of the last weights."""

import benchbench

from .averaging import EMA, SWA
from .basic import SGD, AdamW, Lion
from .muon import Muon
from .schedule_free import ScheduleFree
from .wrappers import SAM, Lookahead


@benchbench.hookimpl
def benchbench_register_components(registry):
    for optimizer in (AdamW, SGD, Lion, SAM, Lookahead, ScheduleFree, Muon, EMA, SWA):
        registry.add(optimizer)
