"""Built-in tasks: datasets that ship in a package or are generated offline, and the
standard datasets read from disk in torchvision's layout (fetched with ``benchbench data
fetch``), with the semi-supervised literature's label protocols."""

import benchbench

from .cifar import CIFAR10, CIFAR100
from .digits import Digits
from .digits_png import DigitsPNG
from .idx import KMNIST, MNIST, FashionMNIST
from .mnist1d import MNIST1D
from .semi import DigitsSemi, MNIST1DSemi
from .semi_standard import CIFAR10Semi, CIFAR100Semi, STL10Semi, SVHNSemi
from .stl10 import STL10
from .svhn import SVHN, SVHNExtra
from .transfer import (
    DigitsSource,
    DigitsTransfer,
    MNIST1DShift,
    MNIST1DSource,
    MNIST1DTransfer,
)


@benchbench.hookimpl
def benchbench_register_components(registry):
    for task in (
        Digits,
        DigitsPNG,
        MNIST1D,
        MNIST,
        FashionMNIST,
        KMNIST,
        CIFAR10,
        CIFAR100,
        SVHN,
        SVHNExtra,
        STL10,
        CIFAR10Semi,
        CIFAR100Semi,
        SVHNSemi,
        STL10Semi,
        DigitsSemi,
        MNIST1DSemi,
        DigitsSource,
        DigitsTransfer,
        MNIST1DSource,
        MNIST1DTransfer,
        MNIST1DShift,
    ):
        registry.add(task)
