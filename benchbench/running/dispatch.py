"""Running a suite's specs to completion: claimed, executed, stored as they finish.

:func:`run_specs` hands the runs nobody has stored yet to an executor, a slot at a time,
each one first *claimed* in the results database (a claim with a heartbeat, see
:class:`~benchbench.storage.store.Store`), so several ``benchbench run`` processes on one database
split the suite between them instead of each training all of it; a run claimed by a live
process is waited for, a dead process's claim is taken over. Every result is stored the
moment it arrives; one that cannot be stored (a database locked past all patience) is kept
as a file and stored by the next run. On the first Ctrl-C or SIGTERM the workers are ended,
what finished is stored, and the outcome says how many runs are left.

"""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import BenchbenchError
from ..executors import Executor, Job
from ..host.interrupts import StopSignals
from ..phrasing import either
from ..spec import DEFAULT_COMPONENTS, RunResult, RunSpec
from ..tracking.base import TrackedRun
from ..tracking.relay import Relay

if TYPE_CHECKING:  # the store imports SQLAlchemy and pandas: run-one's data check needs neither
    from ..storage.store import Store

HEARTBEAT_SECONDS = 30.0
_RECHECK_SECONDS = 5.0


def owner_name() -> str:
    """Who claims runs: host, process and a random token (pids are reused)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def release_dead_owners(store: Store) -> None:
    """Drop the claims of processes of this host that no longer exist (killed with -9, the
    machine rebooted), so a resumed suite need not wait for their claims to expire."""
    host = socket.gethostname()
    for owner in store.claim_owners():
        name, _, rest = owner.partition(":")
        pid = rest.partition(":")[0]
        if name == host and pid.isdigit() and not _alive(int(pid)):
            store.release(owner)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def describe(result: RunResult | RunSpec) -> str:
    """``task/arch[/the components that differ from the defaults]/seed N``."""
    shown = [result.task, result.arch] + [
        getattr(result, slot)
        for slot, default in DEFAULT_COMPONENTS.items()
        if getattr(result, slot) != default
    ]
    return f"{'/'.join(shown)}/seed {result.seed}"


def problem(result: RunResult) -> str | None:
    """One line for a run that did not end ok, else None."""
    if result.status == "ok":
        return None
    where = f", in {result.error_component}" if result.error_component else ""
    return f"{describe(result)}: {result.status} ({result.error or 'non-finite loss'}{where})"


@dataclass
class Outcome:
    """What one invocation did: results stored by status, those kept in files instead, runs
    left undone (interrupted, or still claimed by another process), and the signal that
    stopped it."""

    stored: Counter = field(default_factory=Counter)
    """Results stored by this call, by status (``ok``, ``diverged``...)."""
    meanwhile: int = 0
    """Runs that finished here but were stored meanwhile by an import or another process:
    the stored result was kept, and they are not counted as stored this time."""
    left: int = 0
    """Runs left undone: interrupted, or still claimed by another process."""
    spilled: list[Path] = field(default_factory=list)
    """Results the database could not take, kept as files (stored by the next call)."""
    signal: int | None = None
    """The signal that stopped the call, if one did."""

    def __repr__(self) -> str:
        return f"Outcome({self.summary()})"

    def summary(self) -> str:
        """``12 runs stored this time (11 ok, 1 diverged)``, with what was left."""
        counts = ", ".join(f"{n} {status}" for status, n in sorted(self.stored.items()))
        text = f"{sum(self.stored.values())} runs stored this time" + (
            f" ({counts})" if counts else ""
        )
        if self.meanwhile:
            text += (
                f"; {self.meanwhile} finished here but were stored meanwhile by an import or "
                "another process (kept as stored)"
            )
        return text + (f"; {self.left} left" if self.left else "")


def restore_spilled(store: Store, folder: Path) -> int:
    """Store the results an earlier run could not (files in ``folder``); how many."""
    restored = 0
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            result = RunResult.from_dict(json.loads(path.read_text()))
        except (OSError, ValueError, TypeError):
            continue
        store.save(result)
        path.unlink()
        restored += 1
    return restored


def run_specs(
    specs: list[RunSpec],
    store: Store,
    executor: Executor,
    stop: StopSignals,
    spill_folder: Path,
    on_result: Callable[[RunResult], None] = lambda result: None,
    on_note: Callable[[str], None] = lambda line: None,
    ready: dict[str, RunResult] | None = None,
    redo: set[str] | frozenset[str] = frozenset(),
    relay: Relay | None = None,
    labels: dict[str, dict[str, Any]] | None = None,
) -> Outcome:
    """Run ``specs`` (those already stored are skipped, even if stored meanwhile by another process,
    except the run ids in ``redo``: stored results to replace, such as failed runs retried); results
    in ``ready`` (e.g. from :func:`~benchbench.planning.data_check.check_data`) are stored without
    running. Stops early when ``stop`` is requested. ``relay`` hears of each run handed out (tagged
    with its ``labels``), its eval points and its stored result."""
    owner = owner_name()
    outcome = Outcome()
    running: set[str] = set()
    tracked: set[str] = set()
    release_dead_owners(store)

    def track(spec: RunSpec) -> None:
        if relay is not None and spec.run_id not in tracked:
            tracked.add(spec.run_id)
            relay.started(TrackedRun.of(spec, **(labels or {}).get(spec.run_id, {})))

    def save(result: RunResult) -> None:
        try:
            if not store.save(result, owner, replace=result.run_id in redo):
                outcome.meanwhile += 1
                return
        except BenchbenchError as exc:
            spill_folder.mkdir(parents=True, exist_ok=True)
            path = spill_folder / f"{result.run_id}.json"
            from ..spec import json_safe

            path.write_text(json.dumps(json_safe(result.to_dict())))
            outcome.spilled.append(path)
            on_note(
                f"{exc}; kept in {path}, stored by the next {either('benchbench run', 'bb.run')}"
            )
        outcome.stored[result.status] += 1
        if relay is not None:
            if result.run_id not in tracked and result.run_id in by_id:  # failed unrun
                track(by_id[result.run_id])
            relay.finished(result)
        on_result(result)

    def collect(finished: list) -> None:
        for job, result in finished:
            running.discard(job.spec.run_id)
            if isinstance(result, BaseException):
                result = RunResult.failed(job.spec, result)
            save(result)

    by_id = {spec.run_id: spec for spec in specs}
    for result in (ready or {}).values():
        save(result)
    queue = deque(s for s in specs if s.run_id not in (ready or {}))
    elsewhere: dict[str, tuple[RunSpec, str]] = {}  # claimed by a live process
    beat = recheck = time.monotonic()
    waiting = ""
    seen: set[str] = set()
    try:
        while (queue or elsewhere or executor.busy) and not stop.requested:
            while queue and executor.busy < executor.slots and not stop.requested:
                spec = queue.popleft()
                holder = store.claim(spec.run_id, owner)
                if holder is not None:
                    elsewhere[spec.run_id] = (spec, holder)
                    if holder.partition(":")[0] == socket.gethostname() and holder not in seen:
                        seen.add(holder)
                        on_note(
                            f"another benchbench process on this machine ({holder}) is "
                            "training runs of this database: each run shares the cores, so "
                            "time metrics of both are slower than alone"
                        )
                    continue
                if spec.run_id not in redo and store.stored_ids([spec.run_id]):  # by another
                    store.release(owner, [spec.run_id])
                    continue
                track(spec)
                on_eval = relay.forward(spec.run_id) if relay is not None else None
                executor.submit(Job(spec, on_eval))
                running.add(spec.run_id)
            if executor.busy:
                collect(executor.wait(timeout=1.0))
            else:  # only runs held by others are left: look again in a moment
                stop.wait(1.0)
            now = time.monotonic()
            if now - beat > HEARTBEAT_SECONDS:
                store.heartbeat(owner)
                beat = now
            if elsewhere and not queue and now - recheck > _RECHECK_SECONDS:
                recheck = now
                _take_back(elsewhere, queue, store, owner)
                holders = sorted({holder for _, holder in elsewhere.values()})
                note = f"waiting for {len(elsewhere)} runs claimed by {', '.join(holders)}"
                if elsewhere and not executor.busy and note != waiting:
                    on_note(note)
                    waiting = note
    finally:
        if executor.busy:  # stopped: keep what finished, end the rest
            collect(executor.wait(timeout=0))
            executor.stop()
        try:
            store.release(owner)
        except BenchbenchError:
            pass  # the claims expire by themselves
    outcome.left = len(queue) + len(elsewhere) + len(running)
    outcome.signal = stop.signum if stop.requested else None
    return outcome


def _take_back(
    elsewhere: dict[str, tuple[RunSpec, str]], queue: deque[RunSpec], store: Store, owner: str
) -> None:
    """Forget the runs another process has stored; queue those whose claim expired."""
    for run_id in store.stored_ids(elsewhere):
        del elsewhere[run_id]
    for run_id, (spec, _) in list(elsewhere.items()):
        if store.claim(run_id, owner) is None:  # its process died: ours now
            store.release(owner, [run_id])
            del elsewhere[run_id]
            queue.append(spec)
