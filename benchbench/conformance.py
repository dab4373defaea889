"""The conformance checks every component of a plugin should pass: the stable import path of
:mod:`benchbench.authoring.conformance`, where they live."""

from .authoring.conformance import *  # noqa: F403
from .authoring.conformance import __all__  # noqa: F401
