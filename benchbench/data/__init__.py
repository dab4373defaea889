"""Batch streams: how examples reach the training loop."""

from .streams import DATA_PATHS, DeviceStream, LoaderStream, make_stream, materialize

__all__ = ["DATA_PATHS", "DeviceStream", "LoaderStream", "make_stream", "materialize"]
