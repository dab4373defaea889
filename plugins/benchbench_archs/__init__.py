"""Built-in architectures, each an encoder of named blocks plus a head."""

import benchbench

from .airbench import Airbench
from .cnn import CNN
from .gru import GRU
from .lenet import LeNet
from .mlp import MLP
from .resnet import ResNetSmall
from .vgg import VGGSmall


@benchbench.hookimpl
def benchbench_register_components(registry):
    for arch in (MLP, CNN, LeNet, VGGSmall, ResNetSmall, GRU, Airbench):
        registry.add(arch)
