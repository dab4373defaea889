"""Built-in architectures, each an encoder of named blocks plus a head."""

import benchbench

from .cnn import CNN
from .mlp import MLP


@benchbench.hookimpl
def benchbench_register_components(registry):
    for arch in (MLP, CNN):
        registry.add(arch)
