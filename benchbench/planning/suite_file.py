"""Reading a suite file: TOML, or YAML through a safe loader without aliases, every problem one
line naming the file; and the key a suite file's results are stored under."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path
from typing import Any

import yaml

from ..errors import BenchbenchError, one_line

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

SUFFIXES = (".toml", ".yaml", ".yml")
"""What a suite file's name ends in."""


def file_key(path: Path) -> str:
    """A suite file's key: ``<stem>@<8 hex digits of its absolute path>``."""
    resolved = str(Path(path).resolve())
    return f"{Path(path).stem}@{hashlib.sha256(resolved.encode()).hexdigest()[:8]}"


def read_suite_file(path: Path) -> Any:
    """The parsed contents of the suite file ``path`` (a table, if it is a suite)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise _fail(path, f"cannot read suite file ({exc.strerror})") from exc
    except UnicodeDecodeError as exc:
        raise _fail(path, f"not UTF-8 text (byte {exc.start}: {exc.reason})") from exc
    try:
        if path.suffix == ".toml":
            return tomllib.loads(text)
        if path.suffix in (".yaml", ".yml"):
            return yaml.load(text, Loader=_NoAliasLoader)  # noqa: S506 (a safe loader)
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        detail = one_line(exc)
        raise _fail(path, f"malformed {path.suffix[1:].upper()}: {detail}") from exc
    except RecursionError as exc:
        raise _fail(path, "nested too deeply to be a suite file") from exc
    raise _fail(path, "a suite file must end in .toml, .yaml or .yml")


class _NoAliasLoader(yaml.SafeLoader):
    """YAML's safe loader without aliases (``*name``): a suite never needs them, and nested
    aliases expand exponentially (a few hundred bytes that become gigabytes when read)."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.events.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None, None, "aliases (*name) are not allowed in a suite file", event.start_mark
            )
        return super().compose_node(parent, index)


def _fail(path: Path, message: str) -> BenchbenchError:
    return BenchbenchError(f"{path}: {message}")
