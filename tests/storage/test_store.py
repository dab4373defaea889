import os

import pytest

from benchbench import BenchbenchError
from benchbench.executors import InProcessExecutor
from benchbench.planning.suite import parse_suite, plan
from benchbench.storage.store import Store, default_url

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
    store.set_places("t", "t", "test", runs)
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


def test_saving_again_replaces_and_places_are_replaced(tmp_path, pm, data_dir):
    store = Store(default_url(tmp_path))
    runs = plan(parse_suite(SUITE, "t"), pm.registry, seeds=1)
    store.set_places("t", "t", "test", runs)
    store.set_places("t", "t", "test", runs)
    result = next(InProcessExecutor(pm, data_dir).run([runs[0].spec]))
    store.save(result)
    store.save(result)
    assert len(store.results()) == 1
    assert len(store.frame()) == 2  # archs/mlp and regs/none: the two places this run fills
    assert store.suites() == ["t"]


def test_a_suite_planned_again_shows_only_its_current_places(tmp_path, pm, data_dir):
    store = Store(default_url(tmp_path))
    both = plan(parse_suite(SUITE, "t"), pm.registry, seeds=2)
    for result in InProcessExecutor(pm, data_dir).run(
        {r.spec.run_id: r.spec for r in both}.values()
    ):
        store.save(result)
    store.set_places("t", "t", "test", both)
    assert len(store.frame("t")) == 8
    # the suite file loses a track and a seed: the leaderboard follows
    fewer = plan(parse_suite({**SUITE, "tracks": SUITE["tracks"][1:]}, "t"), pm.registry, seeds=1)
    store.set_places("t", "t", "test", fewer)
    frame = store.frame("t")
    assert len(frame) == 2 and set(frame["track"]) == {"regs"} and set(frame["seed"]) == {0}
    assert len(store.results()) == 6  # the runs themselves stay (they are reused if asked)


def test_suite_files_with_the_same_name_are_different_suites(tmp_path, registry):
    from benchbench.planning.suite import load_suite

    text = "[[tracks]]\nname='a'\nkind='arch'\ncandidates=['mlp']\ntasks=['blobs']\n"
    paths = []
    for folder in ("one", "two"):
        (tmp_path / folder).mkdir()
        paths.append(tmp_path / folder / "mine.toml")
        paths[-1].write_text(text)
    first, second = (load_suite(str(p), registry) for p in paths)
    assert first.name == second.name == "mine" and first.key != second.key
    assert first.key.startswith("mine@") and first.source == str(paths[0].resolve())
    store = Store(default_url(tmp_path))
    for suite in (first, second):
        store.set_places(suite.key, suite.name, suite.source, plan(suite, registry))
    assert store.find_suite(str(paths[1])) == second.key
    with pytest.raises(BenchbenchError, match="several suites are named 'mine'"):
        store.find_suite("mine")
    with pytest.raises(BenchbenchError, match=r"no suite 'mien' .* \(stored suites: mine\)"):
        store.find_suite("mien")
    assert load_suite("quick", registry).key == "quick"


def test_claims_are_exclusive_until_their_heartbeat_stops(tmp_path):
    store = Store(default_url(tmp_path))
    assert store.claim("r1", "a") is None
    assert store.claim("r1", "a") is None  # its own claim again
    assert store.claim("r1", "b") == "a"
    assert store.claim("r1", "b", ttl=0.0) is None  # a's heartbeat is older than 0 s: taken
    assert store.claim("r1", "a") == "b"
    store.heartbeat("b")
    store.release("b")
    assert store.claim("r1", "a") is None


def test_a_saved_result_releases_its_claim(tmp_path, pm, data_dir):
    store = Store(default_url(tmp_path))
    spec = plan(parse_suite(SUITE, "t"), pm.registry, seeds=1)[0].spec
    assert store.claim(spec.run_id, "me") is None
    store.save(next(InProcessExecutor(pm, data_dir).run([spec])), owner="me")
    assert store.claim(spec.run_id, "other") is None


def test_unreachable_storage_is_one_clear_error(tmp_path):
    with pytest.raises(BenchbenchError, match="not a database URL"):
        Store("not a url")
    with pytest.raises(BenchbenchError, match="cannot open storage"):
        Store(f"sqlite:///{tmp_path}/missing/dir/x.db")


def test_a_database_written_before_the_ranked_columns_is_upgraded_on_first_open(tmp_path):
    """``data/before-columns.db`` was written by the code before the leaderboard ranked from
    columns (a 4-run suite, ``tiny``); ``before-columns.csv`` is the leaderboard that code
    wrote. Opened now, the database gains its columns, filled from the stored JSON, and ranks
    to the same numbers in SQL."""
    import shutil
    from pathlib import Path

    import numpy as np
    import pandas as pd

    import benchbench as bb
    from benchbench.storage import migrate

    data = Path(__file__).parent / "data"
    shutil.copy(data / "before-columns.db", tmp_path / "benchbench.db")
    url = f"sqlite:///{tmp_path / 'benchbench.db'}"
    import sqlite3

    with sqlite3.connect(tmp_path / "benchbench.db") as raw:
        before = {row[1] for row in raw.execute("PRAGMA table_info(runs)")}
    assert "numbers" not in before and "variant" not in before
    store = Store(url)
    assert not migrate.pending(store.engine) and not migrate.rowid_tables(store.engine)
    assert migrate.missing_columns(store.engine) == [] and not migrate.unfilled(store.engine)
    with sqlite3.connect(tmp_path / "benchbench.db") as raw:
        tables = dict(raw.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'"))
        indexes = {
            row[0] for row in raw.execute("SELECT name FROM sqlite_master WHERE type = 'index'")
        }
    assert "WITHOUT ROWID" in tables["runs"] and "WITHOUT ROWID" in tables["memberships"]
    assert "runs_rebuilt" not in tables and "result" not in tables["runs"]
    assert {"ix_memberships_suite_run", "ix_runs_numbers"} <= indexes
    assert len(store.run_ids()) == 4
    board = bb.leaderboard("tiny", out=tmp_path)
    old = pd.read_csv(data / "before-columns.csv")
    assert list(board["candidate"]) == list(old["candidate"])
    assert list(board["rank"]) == list(old["rank"])
    for column in ("test_accuracy_mean", "test_ece_mean", "time_to_target_s", "train_seconds",
                   "samples_per_s", "data_wait_fraction", "params", "delta_ci95"):  # fmt: skip
        np.testing.assert_allclose(
            board[column].astype(float), old[column].astype(float), rtol=1e-9, err_msg=column
        )


@pytest.mark.e2e
@pytest.mark.skipif(
    not os.environ.get("BENCHBENCH_TEST_POSTGRES"),
    reason="needs a PostgreSQL server: BENCHBENCH_TEST_POSTGRES=postgresql://... (.ci/run sets it)",
)
def test_postgresql_imports_and_ranks_in_sql_as_sqlite_does(tmp_path):
    """The upgrade, the streaming import and the SQL ranking (medians by ``percentile_cont``)
    on PostgreSQL give the leaderboard SQLite gives."""
    import shutil
    from pathlib import Path

    import numpy as np

    import benchbench as bb

    url = os.environ["BENCHBENCH_TEST_POSTGRES"]
    data = Path(__file__).parent / "data"
    (tmp_path / "s").mkdir()
    shutil.copy(data / "before-columns.db", tmp_path / "s" / "benchbench.db")
    bb.export(tmp_path / "set.jsonl", out=tmp_path / "s")
    counts = bb.import_results(tmp_path / "set.jsonl", storage=url, progress=False)[0]
    assert counts["runs"] + counts["runs_present"] == 4 and counts["conflicts"] == 0
    mine, theirs = bb.leaderboard("tiny", out=tmp_path / "s"), bb.leaderboard("tiny", storage=url)
    assert list(mine["candidate"]) == list(theirs["candidate"])
    for column in ("test_accuracy_mean", "time_to_target_s", "params", "delta_ci95", "rank"):
        np.testing.assert_allclose(
            mine[column].astype(float), theirs[column].astype(float), rtol=1e-9, err_msg=column
        )


def test_an_upgrade_that_fails_half_way_leaves_the_database_as_it_was(tmp_path, monkeypatch):
    """Columns added, JSON moved and tables rebuilt in one transaction, DDL included (SQLite's
    driver would commit each ``ALTER TABLE`` on its own): a failure in the last step leaves
    the file as the earlier benchbench wrote it, and the next open upgrades it whole."""
    import shutil
    import sqlite3
    from pathlib import Path

    from benchbench.storage import migrate

    shutil.copy(Path(__file__).parent / "data" / "before-columns.db", tmp_path / "benchbench.db")

    def schema() -> dict[str, str]:
        with sqlite3.connect(tmp_path / "benchbench.db") as raw:
            return dict(raw.execute("SELECT name, sql FROM sqlite_master"))

    before = schema()
    real = migrate._rebuild

    def broken(conn, table):  # type: ignore[no-untyped-def]
        real(conn, table)
        if table.name == "memberships":
            raise RuntimeError("disk gone")

    monkeypatch.setattr(migrate, "_rebuild", broken)
    with pytest.raises(RuntimeError, match="disk gone"):
        Store(f"sqlite:///{tmp_path / 'benchbench.db'}")
    after = schema()  # tables new since (created empty at open) aside, nothing changed
    assert {name: sql for name, sql in after.items() if name in before} == before
    monkeypatch.setattr(migrate, "_rebuild", real)
    store = Store(f"sqlite:///{tmp_path / 'benchbench.db'}")
    assert len(store.run_ids()) == 4 and not migrate.pending(store.engine)


def test_the_median_aggregate_counts_never_as_infinitely_late():
    """SQLite's median (PostgreSQL has ``percentile_cont``): the middle value, the mean of
    the middle two, NULLs ignored, and infinity where the middle reaches it."""
    import math

    from benchbench.storage.median import Median, finite

    def median_of(values):  # type: ignore[no-untyped-def]
        aggregate = Median()
        for value in values:
            aggregate.step(value)
        return finite(aggregate.finalize())

    assert median_of([3.0, 1.0, 2.0]) == 2.0
    assert median_of([4.0, 1.0, 3.0, 2.0]) == 2.5
    assert median_of([None, 5.0, None]) == 5.0
    assert median_of([1.0, 2.0, math.inf]) == 2.0  # one seed never reached it: median 2
    assert median_of([1.0, math.inf]) is None  # half never did: no median time
    assert median_of([]) is None and median_of([None]) is None


def test_a_candidate_whose_seeds_differ_in_size_shows_their_median_parameter_count(tmp_path):
    """A candidate's parameter count is the median of its seeds' (they share a network
    unless a plugin builds another per seed)."""
    import shutil
    from pathlib import Path

    from sqlalchemy import update

    from benchbench.storage.schema import runs

    shutil.copy(Path(__file__).parent / "data" / "before-columns.db", tmp_path / "benchbench.db")
    store = Store(f"sqlite:///{tmp_path / 'benchbench.db'}")
    key = store.find_suite("tiny")
    groups = store.groups(key).set_index("candidate")
    stored = int(groups.loc["none", "params"])
    seeds = store.frame(key)
    one = seeds[seeds["candidate"] == "none"]["run_id"].iloc[0]
    with store.engine.begin() as conn:
        conn.execute(update(runs).where(runs.c.run_id == one).values(params=stored + 1000))
    changed = store.groups(key).set_index("candidate")
    assert changed.loc["none", "params"] == stored + 500  # the median of two seeds
    assert changed.loc["label-smoothing", "params"] == stored
