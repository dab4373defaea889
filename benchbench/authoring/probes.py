"""The probes the conformance checks run plugins against: tiny tasks of each input kind (four
Gaussian blobs, generated in memory), a small network for any input, and a run that never
ends (for the executor checks). A plugin module itself (``-p benchbench.authoring.probes``),
so that worker processes, wherever an executor starts them, register the same probes as the
process that checks; never part of a leaderboard."""

from __future__ import annotations

import math
import os
import socket
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ..budget import Budget
from ..components import Architecture, Model, Regularizer
from ..hookspecs import hookimpl
from ..plugins.config import PluginConfig
from ..plugins.manager import PluginManager, get_plugin_manager
from ..plugins.registry import Origin
from ..tasks import Split, Splits, Task

PROBE_PLUGIN = "benchbench.authoring.probes"
"""The probes' plugin: this module, loaded as a ``-p`` module."""

PROBE_STEPS = 12
"""Optimizer steps of a check's short run: enough for an evaluation, under a second."""


def _blobs(shape: tuple[int, ...], sizes: Sequence[int], classes: int) -> list[Tensor]:
    """Inputs and labels of Gaussian blobs around ``classes`` fixed centres, one pair per
    size (the last size unlabeled: inputs only)."""
    g = torch.Generator().manual_seed(0)
    centres = torch.randn(classes, *shape, generator=g)
    parts: list[Tensor] = []
    for n in sizes:
        y = torch.arange(n) % classes
        parts += [centres[y] + torch.randn(n, *shape, generator=g), y]
    return parts


class _Probe(Task):
    """Four Gaussian blobs of the probe's input kind, with unlabeled data: learnable in a
    few steps, generated in memory."""

    num_classes = 4
    target_accuracy = 0.9
    budget = Budget(steps=PROBE_STEPS, eval_every=0.5)
    has_unlabeled = True
    trainer_defaults = {"batch_size": 16}

    def load(self, data_dir: Path) -> Splits:
        x1, y1, x2, y2, x3, y3, unlabeled, _ = _blobs(self.input_shape, (96, 48, 48, 96), 4)
        return Splits(Split(x1, y1), Split(x2, y2), Split(x3, y3), unlabeled=unlabeled)

    def augment(self, x: Tensor, strength: float, generator: torch.Generator) -> Tensor:
        noise = torch.randn(x.shape, generator=generator, device=generator.device)
        return x + 0.1 * strength * noise


class ProbeImage(_Probe):
    name, summary = "probe-image", "conformance probe: 4 blobs of 1x8x8 images"
    input_shape, modality = (1, 8, 8), "image"


class ProbeSequence(_Probe):
    name, summary = "probe-sequence", "conformance probe: 4 blobs of 1x16 sequences"
    input_shape, modality = (1, 16), "sequence"


class ProbeTabular(_Probe):
    name, summary = "probe-tabular", "conformance probe: 4 blobs of 12 features"
    input_shape, modality = (12,), "tabular"


PROBE_TASKS = {"image": ProbeImage, "sequence": ProbeSequence, "tabular": ProbeTabular}


class ProbeNet(Architecture):
    """Two small blocks (convolutions on images and sequences, ending in a feature map;
    linear layers on tabular inputs) and a linear head."""

    name = "probe-net"
    summary = "conformance probe: two small blocks and a linear head, any input"

    def build(self, input_shape: Sequence[int], num_classes: int) -> Model:
        if len(input_shape) == 1:
            blocks = [
                ("block1", nn.Sequential(nn.Linear(input_shape[0], 16), nn.ReLU())),
                ("block2", nn.Sequential(nn.Linear(16, 16), nn.ReLU())),
            ]
            return Model(blocks, nn.Linear(16, num_classes))
        conv = nn.Conv2d if len(input_shape) == 3 else nn.Conv1d
        blocks = [
            ("block1", nn.Sequential(conv(input_shape[0], 8, 3, padding=1), nn.ReLU())),
            ("block2", nn.Sequential(conv(8, 8, 3, padding=1, stride=2), nn.ReLU())),
        ]
        positions = math.prod((n + 1) // 2 for n in input_shape[1:])
        return Model(blocks, nn.Linear(8 * positions, num_classes))


class ProbeHang(Regularizer):
    """A run that never ends: every step writes the time into ``beats/HOST-PID-THREAD.beat`` (when
    ``beats`` names a folder) and waits 50 ms, so a check can tell whether a run is still going from
    outside its process, wherever it runs (on a shared file system)."""

    name = "probe-hang"
    summary = "conformance probe: a run that never ends, beating into a folder"
    defaults = {"beats": ""}

    def transform(self, x: Tensor, targets: Tensor, generator: torch.Generator) -> Any:
        folder = self.hparams["beats"]
        if folder:
            where = f"{socket.gethostname()}-{os.getpid()}-{threading.get_ident()}"
            beat = Path(folder) / f"{where}.beat"
            beat.write_text(str(time.time_ns()))
        time.sleep(0.05)
        return x, targets


PROBES = (*PROBE_TASKS.values(), ProbeNet, ProbeHang)


@hookimpl
def benchbench_register_components(registry: Any) -> None:
    for cls in PROBES:
        registry.add(cls)


class RngWatch:
    """A watch on torch's global RNG while a run trains in this process: the loop seeds it
    per run (a network's initial weights come from it), so a component that draws from it
    instead of the generator the loop hands over still repeats with one seed, and only a
    state that moved between the first step and an eval point gives it away."""

    torch_rng: Tensor | None = None
    drew_torch = False

    @hookimpl
    def benchbench_run_started(self, spec: Any, model: Any) -> None:
        self.torch_rng, self.drew_torch = torch.random.get_rng_state(), False

    @hookimpl
    def benchbench_eval_point(self, spec: Any, point: dict[str, Any]) -> None:
        if self.torch_rng is not None:
            self.drew_torch |= not torch.equal(self.torch_rng, torch.random.get_rng_state())


def probe_config(modules: Sequence[str] = (), autoload: bool = True) -> PluginConfig:
    """The configured plugins and the probes: what the checks' worker processes load."""
    return PluginConfig(modules=(*modules, PROBE_PLUGIN), autoload=autoload)


def probe_manager(modules: Sequence[str] = (), autoload: bool = True) -> PluginManager:
    """A plugin manager with the configured plugins, the probes and the RNG watch."""
    pm = get_plugin_manager(probe_config(modules, autoload))
    pm._register_plugin(RngWatch(), Origin("benchbench-rng-watch"))
    return pm


def rng_watch(pm: PluginManager) -> RngWatch:
    """The RNG watch :func:`probe_manager` registered."""
    return next(p for p in pm.get_plugins() if isinstance(p, RngWatch))
