"""Built-in regularizers: how a labeled batch becomes a loss."""

import benchbench

from .augment import Augment
from .basic import LabelSmoothing, NoRegularizer, WeightDecay
from .distillation import Distillation
from .masking import Cutout, Dropout
from .mixing import CutMix, ManifoldMixup, Mixup

REGULARIZERS = (
    NoRegularizer,
    WeightDecay,
    LabelSmoothing,
    Mixup,
    CutMix,
    Cutout,
    ManifoldMixup,
    Dropout,
    Distillation,
    Augment,
)


@benchbench.hookimpl
def benchbench_register_components(registry):
    for regularizer in REGULARIZERS:
        registry.add(regularizer)
