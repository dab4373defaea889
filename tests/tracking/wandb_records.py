"""Reading a W&B run file (``run-ID.wandb``, written offline) back: its records, for the
tests. The file is LevelDB's log format after W&B's 7-byte header (``:W&B``, magic
``0xBEE1``, version): 32 KiB blocks of chunks, each a 7-byte header (CRC-32C, length,
type: full, first, middle, last) and a piece of one serialized ``Record`` protobuf."""

from __future__ import annotations

import json
import struct
from pathlib import Path

BLOCK = 32 * 1024
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def records(path: Path) -> list:
    from wandb.proto import wandb_internal_pb2

    data = Path(path).read_bytes()
    assert data[:4] == b":W&B", "not a W&B run file"
    out, pending, at = [], b"", 7
    while at + 7 <= len(data):
        room = BLOCK - at % BLOCK
        if room < 7:  # the block's trailer
            at += room
            continue
        _, length, kind = struct.unpack("<IHB", data[at : at + 7])
        piece = data[at + 7 : at + 7 + length]
        at += 7 + length
        if kind == 0 and length == 0:
            break
        pending = piece if kind in (FULL, FIRST) else pending + piece
        if kind in (FULL, LAST):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            out.append(record)
            pending = b""
    return out


def history_and_summary(path: Path) -> tuple[list[dict], dict]:
    """The run's history rows (with ``_step``) and its final summary."""
    history, summary = [], {}
    for record in records(path):
        kind = record.WhichOneof("record_type")
        if kind == "history":
            row = {
                item.key or "/".join(item.nested_key): json.loads(item.value_json)
                for item in record.history.item
            }
            if record.history.HasField("step"):
                row["_step"] = record.history.step.num
            history.append(row)
        elif kind == "summary":
            for item in record.summary.update:
                summary[item.key or "/".join(item.nested_key)] = json.loads(item.value_json)
    return history, summary
