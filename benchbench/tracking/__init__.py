"""Experiment trackers: benchbench's runs where people already watch theirs.

A tracker (:class:`~benchbench.Tracker`) is a plugin class registered through the
``benchbench_register_trackers`` hook and chosen with ``--log NAME[:TARGET]`` (``log=`` in
the API, ``log = [...]`` in a suite file). Trackers run in the driver, the process that
stores results: workers, local or on Ray nodes, send each eval point back over the
executor's channel (:meth:`~benchbench.Executor.channel`), and
:class:`~.relay.Relay` hands everything to the trackers on a thread of its own, so a slow
or dead tracker delays no run and loses no result; it costs a warning.
"""

from .base import Session, TrackedRun, Tracker, parse_log
from .relay import Relay, open_relay, reading

__all__ = ["Relay", "Session", "TrackedRun", "Tracker", "open_relay", "parse_log", "reading"]
