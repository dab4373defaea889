"""Result sets travel as files and merge without duplicates into one leaderboard."""

import gzip
import json

from click.testing import CliRunner

from benchbench.cli import cli
from benchbench.executors import InProcessExecutor
from benchbench.planning.suite import parse_suite, plan
from benchbench.ranking import leaderboard, rank
from benchbench.storage.store import Store, default_url

SUITE = {
    "seeds": 2,
    "budget": {"steps": 4},
    "tracks": [
        {
            "name": "regs",
            "kind": "regularizer",
            "candidates": ["none", "label-smoothing", "explode"],
            "tasks": ["blobs"],
            "fixed": {"arch": "mlp"},
        }
    ],
}
TUNING = {
    "trials": 3,
    "pruned": 1,
    "tuning_seconds": 2.5,
    "val_spread": 0.01,
    "best_params": {"lr": 0.01},
}


def invoke(*args):
    return CliRunner().invoke(cli, ["-p", "bb_test_plugin", *args], catch_exceptions=False)


def machines(tmp_path, pm, data_dir):
    """Three databases: 'all' holds every run of the suite; machines 'a' and 'b' each
    planned the whole suite and ran half of it (the same results, so numbers compare)."""
    places = plan(parse_suite(SUITE, "shared"), pm.registry, seeds=None)
    results = list(InProcessExecutor(pm, data_dir).run([p.spec for p in places]))
    for name in ("all", "a", "b"):
        (tmp_path / name).mkdir()
    stores = {name: Store(default_url(tmp_path / name)) for name in ("all", "a", "b")}
    for name, store in stores.items():
        store.set_places("shared", "shared", "test", places)
        mine = {"all": results, "a": results[:3], "b": results[3:]}[name]
        for result in mine:
            store.save(result)
        if name != "b":  # machine a tuned label smoothing; b has no tunings
            store.set_tunings("shared", {("regs", "blobs", "label-smoothing"): TUNING})
    return stores, results


def board(store, fmt="csv"):
    return leaderboard.text(store, "shared", fmt, leaderboard.WIDE, "shared")


def test_two_exports_merge_into_the_leaderboard_of_all_runs(tmp_path, pm, data_dir):
    stores, results = machines(tmp_path, pm, data_dir)
    for name in ("a", "b"):
        out = invoke(
            "export", "--to", str(tmp_path / f"{name}.jsonl.gz"), "--out", str(tmp_path / name)
        )
        assert out.exit_code == 0, out.output
    assert "exported 3 runs, 6 suite places and 0 tunings" in out.output  # b's
    with gzip.open(tmp_path / "a.jsonl.gz", "rt") as handle:
        lines = [json.loads(line) for line in handle]
    assert lines[0]["format"] == "benchbench-results" and lines[0]["format_version"] == 1
    runs = [line["row"]["result"] for line in lines[1:] if line["table"] == "runs"]
    assert len(runs) == 3 and all(r["curve"] and r["code"] and r["provenance"] for r in runs)

    merged = tmp_path / "merged"
    first = invoke(
        "import", str(tmp_path / "a.jsonl.gz"), str(tmp_path / "b.jsonl.gz"), "--out", str(merged)
    )
    assert first.exit_code == 0, first.output
    assert "a.jsonl.gz: 3 runs added, 0 already stored; 6 suite places added" in first.output
    # b planned the same places with the same run ids: nothing to add but its runs
    assert "b.jsonl.gz: 3 runs added, 0 already stored; 0 suite places added" in first.output
    store = Store(default_url(merged))
    for fmt in ("csv", "json", "markdown"):
        assert board(store, fmt) == board(stores["all"], fmt)
    assert len(rank.build(store.frame("shared"))) == 3

    again = invoke("import", str(tmp_path / "a.jsonl.gz"), "--out", str(merged))
    assert "3 runs added" not in again.output
    assert "a.jsonl.gz: 0 runs added, 3 already stored; 0 suite places added" in again.output
    assert len(store.results()) == len(results) and len(store.frame("shared")) == 6
    assert board(store) == board(stores["all"])

    # several sources at once, without importing: files and databases alike
    shown = invoke(
        "leaderboard", "--format", "csv", "--suite", "shared",
        "--source", str(tmp_path / "a.jsonl.gz"), "--source", str(tmp_path / "b" / "benchbench.db"),
    )  # fmt: skip
    assert shown.exit_code == 0, shown.output
    assert shown.output == board(stores["all"])


def test_a_place_one_machine_left_unrun_is_filled_by_the_other(tmp_path, pm, data_dir):
    stores, _ = machines(tmp_path, pm, data_dir)
    counts = stores["a"].merge(stores["b"].rows())
    assert counts["runs"] == 3 and counts["places"] == 0 and counts["places_kept"] == 0
    assert board(stores["a"]) == board(stores["all"])


def test_damaged_and_foreign_files_are_one_clear_line(tmp_path, pm, data_dir):
    stores, _ = machines(tmp_path, pm, data_dir)
    path = tmp_path / "a.jsonl"
    assert invoke("export", "--to", str(path), "--out", str(tmp_path / "a")).exit_code == 0
    lines = path.read_text().splitlines()
    record = json.loads(lines[1])
    record["row"]["result"]["seed"] = 99  # another spec under the old run id
    path.write_text("\n".join([lines[0], json.dumps(record), *lines[2:]]) + "\n")
    for bad, fragment in (
        (path, "line 2: run"),
        (tmp_path / "a" / "benchbench.db", "is not a benchbench result set"),
        (tmp_path / "nothing.jsonl", "no result file"),
    ):
        result = invoke("import", str(bad), "--out", str(tmp_path / "c"))
        assert result.exit_code == 2, result.output
        assert result.output.count("\n") == 1 and fragment in result.output
    assert (
        "does not match its own spec"
        in invoke("import", str(path), "--out", str(tmp_path / "c")).output
    )
    # one transaction: a damaged line leaves nothing of the file behind
    assert Store(f"sqlite:///{tmp_path / 'c' / 'benchbench.db'}").run_ids() == []


def test_the_fast_spec_identity_is_the_run_id_of_the_spec_on_every_published_run():
    """Imports check each run's id with :func:`spec_identity` instead of building the
    spec; it must agree with ``RunResult.spec().run_id`` exactly, and refuse what a spec
    cannot hold."""
    from pathlib import Path

    import pytest

    from benchbench.spec import RunResult
    from benchbench.storage.lines import spec_identity

    published = Path(__file__).parents[2] / "leaderboards" / "default.jsonl.gz"
    with gzip.open(published, "rt") as lines:
        results = [r["row"]["result"] for r in map(json.loads, lines) if r.get("table") == "runs"]
    assert len(results) == 405
    for result in results:
        assert spec_identity(result) == RunResult.from_dict(result).spec().run_id
        older = {k: v for k, v in result.items() if k not in ("numerics", "data", "code")}
        assert spec_identity(older) == RunResult.from_dict(older).spec().run_id
    # where orjson writes JSON otherwise than the standard library (tiny and huge floats,
    # DEL, text outside ASCII), the id is still the spec's own
    awkward = [1e-05, 2.5e-07, 0.00015, 1e16, 1.2345678901234568e17, 3e-300, 0.1, 100.0]
    for value in awkward:
        for name in ("lr", "caf\u00e9", "del\x7fete", "tab\tbed"):
            changed = {**results[0], "hparams": {**results[0]["hparams"], name: value}}
            changed["budget"] = {**results[0]["budget"], "seconds": value * 1e6}
            assert spec_identity(changed) == RunResult.from_dict(changed).spec().run_id, value
    with pytest.raises(ValueError, match="unknown budget key"):
        spec_identity({**results[0], "budget": {"epochs": 1, "minutes": 3}})
    with pytest.raises(KeyError, match="missing seed"):
        spec_identity({k: v for k, v in results[0].items() if k != "seed"})


def test_worker_processes_store_what_one_process_stores_and_name_a_bad_line(tmp_path, monkeypatch):
    """Past the first lines an import's checks run in worker processes (chunks in flight,
    results in order, each blob handed back once); the database it writes is the one a
    single process writes, row for row, and a damaged line among the workers' is still one
    error naming that line, with nothing stored."""
    from pathlib import Path

    import pytest
    from sqlalchemy import select

    from benchbench.errors import BenchbenchError
    from benchbench.storage import files
    from benchbench.storage.schema import blobs, memberships, run_results, runs

    published = Path(__file__).parents[2] / "leaderboards" / "default.jsonl.gz"
    monkeypatch.setattr(files, "PARALLEL_AFTER", 40)  # 405 runs: most go to the workers
    monkeypatch.setattr(files, "_CHUNK", 25)

    def stored(workers: int, source: Path, name: str) -> dict[str, list]:
        (tmp_path / name).mkdir()
        store = Store(default_url(tmp_path / name))
        store.merge(files.prepared(source, workers=workers))
        with store.engine.connect() as conn:
            return {
                t.name: sorted(map(tuple, conn.execute(select(t)).all()))
                for t in (runs, run_results, blobs, memberships)
            }

    alone, together = stored(0, published, "alone"), stored(2, published, "together")
    assert len(alone["runs"]) == 405 and len(alone["memberships"]) == 411
    assert len(alone["blobs"]) >= 2
    assert together == alone
    with gzip.open(published, "rt") as lines:
        rows = lines.readlines()
    assert '"seed": ' in rows[300]
    rows[300] = rows[300].replace('"seed": ', '"seed": 9', 1)  # edited: another spec
    damaged = tmp_path / "damaged.jsonl"
    damaged.write_text("".join(rows))
    with pytest.raises(
        BenchbenchError, match=r"damaged\.jsonl, line 301: run \w+ does not match its own spec"
    ):
        stored(2, damaged, "damaged")
    assert Store(default_url(tmp_path / "damaged")).run_ids() == []
