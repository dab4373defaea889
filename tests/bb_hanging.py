"""An architecture whose ``build`` never returns, loaded with ``-p bb_hanging``: the plugin
kit must fail it within its time limit, naming it, instead of waiting for ever."""

from __future__ import annotations

import time

import benchbench
from benchbench import Architecture


class HangingNet(Architecture):
    name = "hang-build"
    summary = "a network whose build never returns (tests only)"

    def build(self, input_shape, num_classes):
        while True:
            time.sleep(0.05)


@benchbench.hookimpl
def benchbench_register_components(registry):
    registry.add(HangingNet)
