"""Where the standard datasets' files come from: ``registry.json`` beside this module, in
the registry format of :mod:`benchbench.data.fetch` (URLs and mirrors, and the checksums
torchvision and the datasets' own pages publish)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

_REGISTRY = json.loads(Path(__file__).with_name("registry.json").read_text(encoding="utf-8"))


def registered(task: str) -> tuple[dict[str, Any], ...]:
    """The registry entries of one task (a task class's ``downloads``)."""
    return tuple(_REGISTRY[task])
