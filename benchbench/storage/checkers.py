"""Worker processes that check and prepare the lines of an imported file while the importing process
reads the file and writes the database: checking a run (parsing its JSON, hashing its spec, testing
its numbers against each other) costs more than storing it.

Each worker is a plain ``python -m benchbench.storage.checkers`` child speaking pickles over its
pipes, one chunk of lines at a time. Not ``multiprocessing``: its ``spawn`` re-runs a user's script
that lacks a ``__main__`` guard (unless started as :mod:`benchbench.host.spawn` starts workers), and
``fork`` would copy a process holding an open database transaction and threads."""

from __future__ import annotations

import gc
import os
import pickle
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import BenchbenchError

_CRASHED = "a worker checking the file stopped unexpectedly"


class Checkers:
    """``count`` workers for the file at ``path``; :meth:`run` hands them chunks of
    ``(line number, line)`` and yields each chunk's checked rows in order. At most two
    chunks per worker are in flight, so memory stays bounded however long the file."""

    def __init__(self, count: int, path: Path) -> None:
        root = str(Path(__file__).resolve().parents[2])
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])),
        }
        self.workers = [
            subprocess.Popen(
                [sys.executable, "-m", __name__, str(path)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env=env,
            )
            for _ in range(count)
        ]
        self.inboxes: list[queue.Queue[Any]] = [queue.Queue(maxsize=1) for _ in self.workers]
        self.outboxes: list[queue.Queue[Any]] = [queue.Queue() for _ in self.workers]
        self.threads = [
            threading.Thread(target=self._relay, args=(i,), daemon=True)
            for i in range(len(self.workers))
        ]
        for thread in self.threads:
            thread.start()

    def _relay(self, index: int) -> None:
        """One chunk at a time to worker ``index`` and its answer back (one chunk on the
        pipe at a time: a worker blocked writing an answer is never sent more)."""
        worker, inbox, outbox = self.workers[index], self.inboxes[index], self.outboxes[index]
        assert worker.stdin is not None and worker.stdout is not None
        while (chunk := inbox.get()) is not None:
            try:
                pickle.dump(chunk, worker.stdin, protocol=pickle.HIGHEST_PROTOCOL)
                worker.stdin.flush()
                outbox.put(pickle.load(worker.stdout))
            except (OSError, EOFError, pickle.UnpicklingError):
                outbox.put(("error", _CRASHED))
                return

    def run(self, chunks: Iterator[list[tuple[int, str]]]) -> Iterator[list[tuple[str, Any]]]:
        """Each chunk's rows (as :func:`~.files.prepared` hands them on), in order; a line
        a worker refused is its one-line error."""
        sent = received = 0
        count = len(self.workers)
        for chunk in chunks:
            self.inboxes[sent % count].put(chunk)  # waits while that worker is two behind
            sent += 1
            if sent - received >= 2 * count:
                yield self._answer(received % count)
                received += 1
        while received < sent:
            yield self._answer(received % count)
            received += 1

    def _answer(self, index: int) -> list[tuple[str, Any]]:
        kind, value = self.outboxes[index].get()
        if kind == "error":
            raise BenchbenchError(value)
        return value

    def close(self) -> None:
        """Stop the workers (at once, whatever they are doing)."""
        for inbox in self.inboxes:
            try:
                inbox.put_nowait(None)
            except queue.Full:
                pass
        for worker in self.workers:
            worker.kill()
            worker.wait()
            for pipe in (worker.stdin, worker.stdout):
                if pipe is not None:
                    try:
                        pipe.close()
                    except OSError:  # unsent bytes to a worker that is gone
                        pass


def main() -> None:
    """A worker: chunks in on stdin, ``("ok", rows)`` or ``("error", line)`` out."""
    from .lines import prepare_chunk

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the importing process handles Ctrl-C
    gc.disable()  # many short-lived dicts, no cycles: the collector only costs time here
    path = Path(sys.argv[1])
    source, sink = sys.stdin.buffer, sys.stdout.buffer
    sent: set[str] = set()
    while True:
        try:
            chunk = pickle.load(source)
        except EOFError:
            return
        try:
            answer: tuple[str, Any] = ("ok", prepare_chunk(path, chunk, sent))
        except BenchbenchError as exc:
            answer = ("error", str(exc))
        pickle.dump(answer, sink, protocol=pickle.HIGHEST_PROTOCOL)
        sink.flush()


if __name__ == "__main__":
    main()
