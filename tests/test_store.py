import pytest

from benchbench import BenchbenchError
from benchbench.execute import InProcessExecutor
from benchbench.store import Store, default_url
from benchbench.suite import parse_suite, plan

SUITE = {
    "seeds": 2,
    "budget": {"steps": 4},
    "tracks": [
        {
            "name": "archs",
            "kind": "arch",
            "tasks": ["blobs"],
            "candidates": [
                "mlp",
                {"name": "mlp", "label": "mlp-wide", "hparams": {"mlp.width": 512}},
            ],
        },
        {
            "name": "regs",
            "kind": "regularizer",
            "candidates": ["none", "label-smoothing"],
            "tasks": ["blobs"],
            "fixed": {"arch": "mlp"},
        },
    ],
}


def test_default_url_is_sqlite_in_the_out_folder(tmp_path):
    assert default_url(tmp_path) == f"sqlite:///{tmp_path.resolve()}/benchbench.db"


def test_run_then_resume_skips_what_is_stored(tmp_path, pm, data_dir):
    store = Store(default_url(tmp_path))
    runs = plan(parse_suite(SUITE, "t"), pm.registry, seeds=None)
    specs = {r.spec.run_id: r.spec for r in runs}
    # archs/mlp and regs/none are the same runs: trained once, counted in both tracks
    assert len(runs) == 8 and len(specs) == 6
    store.add_memberships(runs)
    first_half = list(specs.values())[:3]
    for result in InProcessExecutor(pm, data_dir).run(first_half):
        store.save(result)
    assert store.stored_ids(specs) == {s.run_id for s in first_half}

    reopened = Store(default_url(tmp_path))  # as a second `benchbench run` would
    todo = [s for i, s in specs.items() if i not in reopened.stored_ids(specs)]
    assert len(todo) == 3
    for result in InProcessExecutor(pm, data_dir).run(todo):
        reopened.save(result)
    assert reopened.stored_ids(specs) == set(specs)

    frame = reopened.frame("t")
    assert len(frame) == 8 and set(frame["status"]) == {"ok"}
    assert frame.groupby("track").size().to_dict() == {"archs": 4, "regs": 4}
    stored = {r.run_id: r for r in reopened.results()}
    assert stored[todo[0].run_id].curve and stored[todo[0].run_id].provenance["plugins"]


def test_saving_again_replaces_and_memberships_are_upserted(tmp_path, pm, data_dir):
    store = Store(default_url(tmp_path))
    runs = plan(parse_suite(SUITE, "t"), pm.registry, seeds=1)
    store.add_memberships(runs)
    store.add_memberships(runs)
    result = next(InProcessExecutor(pm, data_dir).run([runs[0].spec]))
    store.save(result)
    store.save(result)
    assert len(store.results()) == 1
    assert len(store.frame()) == 2  # archs/mlp and regs/none: the two places this run fills
    assert store.suites() == ["t"]


def test_unreachable_storage_is_one_clear_error(tmp_path):
    with pytest.raises(BenchbenchError, match="not a database URL"):
        Store("not a url")
    with pytest.raises(BenchbenchError, match="cannot open storage"):
        Store(f"sqlite:///{tmp_path}/missing/dir/x.db")
