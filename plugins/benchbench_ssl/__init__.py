"""Built-in semi- and self-supervised methods: what unlabeled data is used for."""

import benchbench

from .autoencoders import Autoencoder, Layerwise
from .contrastive import CPC, SimCLR
from .semi import UDA, FixMatch, PseudoLabel


class Supervised(benchbench.SSL):
    """Labeled data only; unlabeled data is ignored. The baseline of every ssl track."""

    baseline = True
    name = "supervised"
    summary = "labeled data only, unlabeled data ignored (the baseline)"


@benchbench.hookimpl
def benchbench_register_components(registry):
    for method in (
        Supervised,
        PseudoLabel,
        UDA,
        FixMatch,
        SimCLR,
        CPC,
        Autoencoder,
        Layerwise,
    ):
        registry.add(method)
