"""The Python API does what the command does: the same runs, the same leaderboard, the same
one-line errors (raised), the same warnings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import benchbench as bb
from benchbench.errors import BenchbenchError, BenchbenchWarning

TESTS = Path(__file__).parent
SCRIPT = """
import json, sys
import benchbench as bb

out = sys.argv[1]
outcome = bb.run("quick", out=out, seeds=1, workers=2, progress=False)
board = bb.leaderboard("quick", out=out)
result = bb.run_one("digits", "mlp", regularizer="mixup", steps=40, hparams={"mixup.alpha": 0.4})
runs = bb.results(out=out)
print(json.dumps({
    "planned": outcome.planned,
    "stored": dict(outcome.dispatched.stored),
    "ok": outcome.ok,
    "files": sorted(p.name for p in outcome.files),
    "board": json.loads(board.to_json(orient="records")),
    "table": outcome.table,
    "result": [result.status, result.test_accuracy, result.hparams["mixup.alpha"], result.steps],
    "runs": [runs["run_id"].tolist(), runs["status"].tolist(), runs["test_accuracy"].tolist()],
}))
"""


def _command(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "benchbench", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
    )


@pytest.mark.e2e  # a script in its own process, training a suite: with the end-to-end ones
def test_a_script_runs_quick_reads_the_leaderboard_runs_one_and_reads_every_run(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "out")],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    # progress=False: nothing shown but the warning that 2 workers on 2 cores timed each other
    lines = done.stderr.splitlines()
    assert lines == [] or (
        lines[0].startswith("<string>:6: BenchbenchWarning: ")  # the caller's line
        and "runs were timed on shared hardware" in lines[0]
        and len(lines) == 1
    ), done.stderr
    got = json.loads(done.stdout)
    assert got["planned"] == 6 and got["stored"] == {"ok": 6} and got["ok"]
    assert got["files"] == ["quick.csv", "quick.json", "quick.md"]
    # the DataFrame is the command's JSON, row for row and value for value
    shown = _command("leaderboard", "--format", "json", "--out", "out", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert got["board"] == json.loads(shown.stdout)
    assert len(got["board"]) == 8  # 2 tracks x 2 tasks x 2 candidates, from 6 distinct runs
    assert {row["candidate"] for row in got["board"]} == {"mlp", "cnn", "none", "label-smoothing"}
    assert sorted(row["rank"] for row in got["board"]) == [1, 1, 1, 1, 2, 2, 2, 2]
    # the plain table the command prints is the one the outcome holds
    plain = _command("leaderboard", "--out", "out", "--suite", "quick", cwd=tmp_path)
    assert got["table"].strip() == "quick\n\n" + plain.stdout.strip()  # with its title
    status, accuracy, alpha, steps = got["result"]
    assert status == "ok" and accuracy > 0.5 and alpha == 0.4 and steps == 40  # 10 classes
    run_ids, statuses, accuracies = got["runs"]
    assert len(run_ids) == len(set(run_ids)) == 6  # run_one had no storage: not stored
    assert statuses == ["ok"] * 6 and all(a > 0.1 for a in accuracies)


def test_results_is_one_row_per_stored_run_with_every_field(tmp_path):
    from benchbench.spec import RunResult

    result = bb.run_one(
        "blobs", "mlp", steps=20, plugins=["bb_test_plugin"], storage=_url(tmp_path)
    )
    again = bb.run_one("blobs", "mlp", steps=20, plugins=["bb_test_plugin"], seed=1)
    runs = bb.results(out=tmp_path)
    assert list(runs.columns) == list(RunResult.__dataclass_fields__)
    assert runs["run_id"].tolist() == [result.run_id]  # the unstored one is not there
    row = runs.iloc[0]
    assert row["test_accuracy"] == result.test_accuracy and row["curve"] == result.curve
    assert again.run_id != result.run_id and again.seed == 1
    with pytest.raises(BenchbenchError, match="no suite 'quick'"):
        bb.results(out=tmp_path, suite="quick")


def test_run_one_gives_the_same_numbers_as_the_command(tmp_path):
    args = ["--task", "blobs", "--arch", "mlp", "--steps", "20", "--set", "lr=0.01", "--json"]
    shown = _command("-p", "bb_test_plugin", "run-one", *args, cwd=TESTS)
    assert shown.returncode == 0, shown.stderr
    command = json.loads(shown.stdout)
    result = bb.run_one("blobs", "mlp", steps=20, hparams={"lr": 0.01}, plugins=["bb_test_plugin"])
    assert result.run_id == command["run_id"]
    assert result.test_accuracy == command["test_accuracy"]
    assert [p["val_accuracy"] for p in result.curve] == [
        p["val_accuracy"] for p in command["curve"]
    ]


def test_errors_are_the_commands_lines_raised(tmp_path):
    with pytest.raises(BenchbenchError, match=r"unknown suite 'quik'; did you mean 'quick'\?"):
        bb.run("quik", out=tmp_path, progress=False)
    with pytest.raises(BenchbenchError, match="unknown regularizer 'mixupp'"):
        bb.run_one("digits", "mlp", regularizer="mixupp")
    with pytest.raises(BenchbenchError, match="no results database in"):
        bb.leaderboard(out=tmp_path / "nothing-here")
    with pytest.raises(BenchbenchError, match="name a suite, or one candidate with task and arch"):
        bb.tune("quick", task="digits", out=tmp_path, progress=False)
    with pytest.raises(BenchbenchError, match="unknown kind 'regularizers'"):
        bb.catalog("regularizers")
    shown = _command("run", "quik", "--out", str(tmp_path), cwd=tmp_path)
    assert shown.returncode == 2
    assert "unknown suite 'quik'; did you mean 'quick'?" in shown.stderr


def test_a_plugin_that_does_not_load_is_a_warning_naming_it(tmp_path, monkeypatch):
    dist = tmp_path / "gpu_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: gpu-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[benchbench]\ngpu = bb_gpu_module\n")
    (tmp_path / "bb_gpu_module.py").write_text("raise ImportError('needs a GPU library')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    line = "plugin 'gpu' was not loaded: ImportError: needs a GPU library"
    with pytest.warns(BenchbenchWarning, match=line):
        assert "mixup.alpha" in bb.describe("mixup")  # the others still work
    with pytest.warns(BenchbenchWarning, match=line):
        assert set(bb.catalog("task")["name"]) >= {"digits", "mnist1d"}
    with pytest.raises(BenchbenchError, match="cannot import plugin module 'bb_nowhere'"):
        bb.describe("mixup", plugins=["bb_nowhere"])  # a -p module the user named: an error


def test_describe_and_catalog_are_what_show_and_list_print(tmp_path):
    text = bb.describe("mixup")
    shown = _command("show", "mixup", cwd=tmp_path)
    # the same, each in its caller's words
    assert "choose it with regularizer='mixup'" in text and "hparams key" in text
    spelled = text.replace("regularizer='mixup'", "--regularizer mixup")
    spelled = spelled.replace("hparams key", "--set NAME")

    def words(said: str) -> list[str]:  # the table's columns are as wide as their header
        return [" ".join(line.split()) for line in said.splitlines() if line.strip("- ")]

    assert words(shown.stdout) == words(spelled)
    assert "mixup.alpha" in text
    rows = bb.catalog()
    listed = _command("list", "--json", cwd=tmp_path)
    assert json.loads(listed.stdout) == rows.to_dict("records")
    assert list(rows.columns[:3]) == ["kind", "name", "summary"]


def test_a_registered_suite_is_described_with_the_runs_it_plans(tmp_path):
    """benchbench show quick said 'unknown component or executor': suites were not shown."""
    from benchbench.planning.suite import load_suite
    from benchbench.plugins.manager import load_plugins

    text = bb.describe("quick")
    registry = load_plugins().registry
    suite = load_suite("quick", registry)
    planned = sum(len(t.candidates) * len(t.tasks) * t.seeds for t in suite.tracks)
    assert planned == 16 and text.endswith(f"{planned} runs in all; run it with bb.run('quick')")
    assert text.splitlines()[0].startswith("suite quick: The whole pipeline")
    assert "track regularizers (regularizer): none (baseline), label-smoothing" in text
    assert "  2 seeds, budget epochs 10: 8 runs" in text and "  with arch mlp" in text
    shown = _command("show", "quick", cwd=tmp_path)
    assert shown.stdout.strip().endswith("16 runs in all; run it with 'benchbench run quick'")
    with pytest.raises(bb.BenchbenchError, match=r"unknown component, executor or suite 'quik'; did you mean 'quick'"):  # fmt: skip
        bb.describe("quik")


def _url(folder: Path) -> str:
    return f"sqlite:///{folder / 'benchbench.db'}"


def test_dir_lists_the_whole_public_api_and_every_name_resolves():
    """``bb.<TAB>`` in IPython completes from ``dir(bb)``: every public name is there before
    it is first imported, and each one imports."""
    import benchbench.api

    for module in (bb, benchbench.api):
        assert set(module.__all__) <= set(dir(module))
        assert all(getattr(module, name) is not None for name in module.__all__)
    assert {"run", "verify", "data_status", "fetch_data", "Executor"} <= set(dir(bb))
