import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from benchbench.cli import cli

TESTS = Path(__file__).parents[1]
SUITE = """
seeds = 2
budget = { steps = 6 }

[[tracks]]
name = "regs"
kind = "regularizer"
candidates = ["none", "label-smoothing", "explode"]
tasks = ["blobs"]
fixed = { arch = "mlp" }
"""


def invoke(*args):
    return CliRunner().invoke(cli, ["-p", "bb_test_plugin", *args], catch_exceptions=False)


def assert_one_clean_line(result, *fragments):
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("benchbench: error: ")
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0]


def test_list_shows_components_with_their_origin():
    result = invoke("list")
    assert result.exit_code == 0
    lines = {line.split()[1]: line for line in result.output.splitlines()[2:]}
    assert "benchbench 0.1.0" in lines["label-smoothing"]
    assert "-p bb_test_plugin" in lines["blobs"]
    assert {"digits", "mnist1d", "mlp", "cnn", "none", "supervised", "full", "quick"} <= set(lines)


def test_list_json_filters_by_kind():
    rows = json.loads(invoke("list", "--kind", "arch", "--json").output)
    ours = {r["name"] for r in rows if r["distribution"] == "benchbench"}  # others may be installed
    assert ours == {"mlp", "cnn", "lenet", "vgg-small", "resnet-small", "gru", "airbench"}
    assert all(r["kind"] == "arch" for r in rows)
    assert rows[0]["defaults"]


def test_run_one_json_has_every_promised_field():
    result = invoke(
        "run-one",
        "--task",
        "blobs",
        "--arch",
        "mlp",
        "--steps",
        "8",
        "--set",
        "lr=0.01",
        "--set",
        "mlp.width=32",
        "--json",
        "--device",
        "cpu",
    )
    assert result.exit_code == 0
    data = json.loads(result.output)
    for key in (
        "run_id",
        "status",
        "task",
        "arch",
        "regularizer",
        "ssl",
        "finetune",
        "seed",
        "hparams",
        "test_accuracy",
        "best_val_accuracy",
        "time_to_target_s",
        "train_seconds",
        "eval_seconds",
        "steps",
        "samples_seen",
        "params",
        "curve",
        "loader",
        "error",
    ):
        assert key in data
    assert data["steps"] == 8 and data["hparams"]["lr"] == 0.01
    assert data["params"] == 8 * 32 + 32 + 32 * 32 + 32 + 32 * 4 + 4
    assert data["status"] == "ok" and data["test_accuracy"] > 0.25


def test_run_one_failure_exits_one_with_the_error():
    result = invoke(
        "run-one", "--task", "blobs", "--arch", "mlp", "--regularizer", "explode", "--steps", "2"
    )
    assert result.exit_code == 1 and "failed (RuntimeError: boom)" in result.output


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (
            ["run-one", "--task", "digitz", "--arch", "mlp"],
            ["unknown task 'digitz'", "did you mean 'digits'"],
        ),
        (
            ["run-one", "--task", "blobs", "--arch", "mlp", "--set", "lr"],
            ["--set takes NAME=VALUE"],
        ),
        (["run", "quik"], ["unknown suite 'quik'"]),
        (["leaderboard", "--out", "/nonexistent/place"], ["no results database", "--out"]),
        (["leaderboard", "--storage", "sqlite:////nonexistent/dir/x.db"], ["cannot open storage"]),
    ],
)
def test_user_errors_are_one_line_and_exit_two(args, fragments):
    assert_one_clean_line(invoke(*args), *fragments)


def test_malformed_suite_and_unwritable_out(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[[tracks]]\nname = 'x'\nkind = 'arch'\n")
    assert_one_clean_line(invoke("run", str(bad)), str(bad), "missing 'candidates'")
    blocker = tmp_path / "file"
    blocker.write_text("")
    good = tmp_path / "good.toml"
    good.write_text(SUITE)
    assert_one_clean_line(invoke("run", str(good), "--out", str(blocker / "out")), "not writable")


def test_run_a_suite_then_resume_then_read_the_leaderboard(tmp_path):
    suite = tmp_path / "mine.toml"
    suite.write_text(SUITE)
    out = tmp_path / "out"
    first = invoke("run", str(suite), "--out", str(out), "--device", "cpu")
    assert first.exit_code == 1, first.output  # a run failed: the suite says so
    assert "6 runs, 0 already stored, 6 to run" in first.output
    assert "mine / regs / blobs" in first.output
    assert "failed (RuntimeError: boom, in regularizer explode)" in first.output
    assert "6 runs stored this time (2 failed, 4 ok)" in first.output
    assert "2 runs of suite mine failed or timed out" in first.output
    for suffix in ("md", "csv", "json"):
        assert (out / "leaderboards" / f"mine.{suffix}").exists()

    again = invoke("run", str(suite), "--out", str(out), "--device", "cpu")
    assert "6 runs, 6 already stored, 0 to run" in again.output
    assert again.exit_code == 1  # nothing trained, and the failures are still said, with why
    assert "failed (RuntimeError: boom, in regularizer explode)" in again.output

    board = json.loads(invoke("leaderboard", "--out", str(out), "--format", "json").output)
    rows = {r["candidate"]: r for r in board}
    assert rows["none"]["baseline"] and rows["none"]["delta_vs_baseline"] == 0
    assert rows["label-smoothing"]["seeds"] == 2 and rows["label-smoothing"]["rank"] in (1, 2)
    assert rows["explode"]["ok"] == 0 and rows["explode"]["test_accuracy_mean"] is None


def test_console_script_and_module_entry_points(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(TESTS)}
    helped = subprocess.run(
        [sys.executable, "-m", "benchbench", "--help"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    for command in ("list", "run", "run-one", "leaderboard"):
        assert command in helped.stdout
    script = Path(sys.executable).with_name("benchbench")
    listed = subprocess.run(
        [str(script), "list", "--kind", "task"], capture_output=True, text=True, env=env, check=True
    )
    assert "digits" in listed.stdout and "mnist1d" in listed.stdout


@pytest.mark.e2e
def test_quick_suite_end_to_end_on_real_data(tmp_path):
    """The README's first command, on one seed: real digits and MNIST-1D, both archs."""
    script = Path(sys.executable).with_name("benchbench")
    done = subprocess.run(
        [str(script), "run", "quick", "--seeds", "1", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=1800,  # a hang guard only: about 20 s on a quiet 2-core machine
    )
    assert done.returncode == 0, done.stderr
    board = json.loads((tmp_path / "leaderboards" / "quick.json").read_text())
    assert {(r["track"], r["task"]) for r in board} == {
        ("architectures", "digits"),
        ("architectures", "mnist1d"),
        ("regularizers", "digits"),
        ("regularizers", "mnist1d"),
    }
    assert all(r["ok"] == 1 and r["test_accuracy_mean"] > 0.3 for r in board)
    cnn = next(r for r in board if r["task"] == "mnist1d" and r["candidate"] == "cnn")
    assert cnn["rank"] == 1 and cnn["test_accuracy_mean"] > 0.8


def test_profile_sweeps_loader_settings_and_plots(tmp_path):
    result = invoke(
        "profile",
        "slow-blobs",
        "--steps",
        "8",
        "--loader-workers",
        "1",
        "--repeats",
        "1",
        "--device",
        "cpu",
        "--out",
        str(tmp_path),
        "--json",
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output[result.output.index("{") :])
    settings = [r["setting"] for r in data["rows"]]
    assert settings == ["device", "memory, 0 workers", "disk, 0 workers", "disk, 1 worker"]
    verdicts = {r["setting"]: r["verdict"] for r in data["rows"]}
    assert verdicts["disk, 0 workers"] == "input-bound" and verdicts["device"] == "compute-bound"
    assert data["summary"].startswith("fastest: ")
    assert (tmp_path / "profiles" / "slow-blobs.png").stat().st_size > 1000
