"""The data folder the GPU benchmarks read: the usual one, or (``fake``) a temporary folder
holding CIFAR-10-sized files of random pixels in the real format, for a machine without the
real files (speed is real, accuracy is not). Shared by ``pixel_storage.py`` and
``gpu_throughput.py``."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from benchbench.tasks import default_data_dir


def data_folder(fake: bool, per_batch: int = 10_000) -> Path:
    """The default data folder, or a fresh one with fake CIFAR-10 images: five training
    batches of ``per_batch`` and a test batch as large (50,000 + 10,000 by default)."""
    if not fake:
        return default_data_dir()
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from fake_datasets import fake_cifar10

    folder = Path(tempfile.mkdtemp())
    fake_cifar10(folder, per_batch=per_batch, n_test=per_batch)
    return folder
