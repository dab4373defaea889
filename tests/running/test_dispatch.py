"""The suite runner: results stored as they come, kept when the database refuses them, data
checked before training, claims honoured."""

import json

import pytest

from benchbench import BenchbenchError, Budget
from benchbench.executors import InProcessExecutor
from benchbench.host.interrupts import StopSignals
from benchbench.planning.data_check import check_data
from benchbench.planning.resolve import resolve_spec
from benchbench.running.dispatch import restore_spilled, run_specs
from benchbench.storage.store import Store, default_url


def specs(registry, regularizers=("none", "label-smoothing"), task="blobs"):
    return [
        resolve_spec(registry, task=task, arch="mlp", regularizer=r, budget=Budget(steps=3))
        for r in regularizers
    ]


def test_results_the_database_refuses_are_kept_and_stored_next_time(
    tmp_path, pm, data_dir, monkeypatch
):
    store = Store(default_url(tmp_path))
    save = Store.save

    def locked(self, result, owner=None, replace=True):
        raise BenchbenchError("storage x: saving run: database is locked")

    monkeypatch.setattr(Store, "save", locked)
    notes = []
    todo = specs(pm.registry)
    outcome = run_specs(
        todo,
        store,
        InProcessExecutor(pm, data_dir),
        StopSignals(),
        tmp_path / "unsaved",
        on_note=notes.append,
    )
    assert outcome.stored["ok"] == 2 and len(outcome.spilled) == 2
    assert "database is locked; kept in" in notes[0]
    kept = json.loads(outcome.spilled[0].read_text())
    assert kept["run_id"] in {s.run_id for s in todo} and kept["curve"]
    monkeypatch.setattr(Store, "save", save)
    assert store.stored_ids(s.run_id for s in todo) == set()
    assert restore_spilled(store, tmp_path / "unsaved") == 2
    assert store.stored_ids(s.run_id for s in todo) == {s.run_id for s in todo}
    assert not list((tmp_path / "unsaved").glob("*.json"))


def test_a_requested_stop_runs_nothing_and_counts_what_is_left(tmp_path, pm, data_dir):
    store = Store(default_url(tmp_path))
    stop = StopSignals()
    stop.request()
    outcome = run_specs(specs(pm.registry), store, InProcessExecutor(pm, data_dir), stop, tmp_path)
    assert outcome.left == 2 and not outcome.stored and outcome.signal == 2
    assert "2 left" in outcome.summary()


def test_runs_claimed_by_a_live_process_are_left_to_it(tmp_path, pm, data_dir):
    store = Store(default_url(tmp_path))
    todo = specs(pm.registry)
    assert store.claim(todo[0].run_id, "elsewhere:1:abc") is None
    stop = StopSignals()
    notes = []

    def stop_once_waiting(line):
        notes.append(line)
        stop.request()

    outcome = run_specs(
        todo, store, InProcessExecutor(pm, data_dir), stop, tmp_path, on_note=stop_once_waiting
    )
    assert outcome.stored["ok"] == 1 and outcome.left == 1
    assert notes == ["waiting for 1 runs claimed by elsewhere:1:abc"]
    assert store.stored_ids([todo[1].run_id]) and not store.stored_ids([todo[0].run_id])


def test_check_data_fails_the_runs_of_a_task_without_data(tmp_path, pm):
    todo = specs(pm.registry, task="mnist") + specs(pm.registry)
    failures = check_data(todo, pm.registry, tmp_path)
    assert set(failures) == {s.run_id for s in todo if s.task == "mnist"}
    failed = next(iter(failures.values()))
    assert failed.status == "failed" and failed.error_component == "task mnist"
    assert failed.error.startswith("mnist not found: expected ")


@pytest.mark.parametrize("signum", [2, 15])
def test_stop_signals_request_a_stop_and_restore_the_handlers(signum):
    import os
    import signal

    before = signal.getsignal(signum)
    with StopSignals() as stop:
        os.kill(os.getpid(), signum)
        assert stop.requested and stop.exit_code == 128 + signum
    assert signal.getsignal(signum) is before


def test_a_run_imported_while_it_trained_is_kept_and_not_counted_twice(tmp_path, pm, data_dir):
    """An import (or another process) stores a run while this process trains it: the stored
    result stays, and this invocation does not count the run as its own."""
    from dataclasses import replace as altered

    store = Store(default_url(tmp_path))
    todo = specs(pm.registry)
    imported = {}

    class ImportWhileTraining(InProcessExecutor):
        def submit(self, job):
            super().submit(job)
            finished = self._done[-1][1]
            if job.spec.run_id == todo[0].run_id:  # the import lands before the run is saved
                imported[job.spec.run_id] = altered(finished, train_seconds=123.0)
                store.save(imported[job.spec.run_id])

    outcome = run_specs(todo, store, ImportWhileTraining(pm, data_dir), StopSignals(), tmp_path)
    assert outcome.stored["ok"] == 1 and outcome.meanwhile == 1
    assert "1 finished here but were stored meanwhile" in outcome.summary()
    assert store.results([todo[0].run_id])[0].train_seconds == 123.0
    assert len(store.run_ids()) == 2
