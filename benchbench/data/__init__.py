"""Batch streams: how examples reach the training loop."""

from .streams import DeviceStream

__all__ = ["DeviceStream"]
