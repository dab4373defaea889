"""``verify``: runs of a result set trained again here and compared; an edited accuracy is
named and fails the check, a run made by other code is rerun only when asked."""

from __future__ import annotations

import gzip
import json

from click.testing import CliRunner

import benchbench as bb
from benchbench.cli.main import cli
from benchbench.spec import RunResult


def _result_set(tmp_path, data_dir):
    url = f"sqlite:///{tmp_path / 'made.db'}"
    for seed in (0, 1):
        bb.run_one("digits", "mlp", steps=30, seed=seed, device="cpu", storage=url)
    path = tmp_path / "set.jsonl.gz"
    bb.export(path, storage=url)
    return path


def _rewrite(path, change):
    with gzip.open(path, "rt") as lines:
        rows = [json.loads(line) for line in lines]
    for row in rows[1:]:
        if row["table"] == "runs":
            change(row["row"]["result"])
    with gzip.open(path, "wt") as out:
        out.writelines(json.dumps(r, sort_keys=True) + "\n" for r in rows)


def test_a_faithful_set_agrees_bit_for_bit_and_an_edited_accuracy_is_named(tmp_path, data_dir):
    path = _result_set(tmp_path, data_dir)
    outcome = bb.verify(path, sample=None, progress=False)
    assert outcome.ok
    assert list(outcome.rows["verdict"]) == ["agrees", "agrees"]
    assert set(outcome.rows["judged"]) == {"exactly"}
    assert (outcome.rows["rerun_test_accuracy"] == outcome.rows["test_accuracy"]).all()
    assert outcome.summary().startswith(f"verified 2 of 2 runs of {path}: 2 agrees, 0 differs")

    def edit(result):
        if result["seed"] == 1:
            result["test_accuracy"] = 0.999

    _rewrite(path, edit)
    done = CliRunner().invoke(cli, ["verify", str(path), "--all"])
    assert done.exit_code == 1, done.output
    assert "differs" in done.output
    assert "test_accuracy 0.999 ->" in done.output
    assert "1 agrees, 1 differs, 0 not rerun" in done.output


def test_a_run_made_by_other_code_is_rerun_only_with_any_code(tmp_path, data_dir):
    path = _result_set(tmp_path, data_dir)

    def other_code(result):
        result["code"]["arch:mlp"] = "bb-mlp 9.9.9"
        result["run_id"] = RunResult.from_dict(result).spec().run_id  # still self-consistent

    _rewrite(path, other_code)
    outcome = bb.verify(path, sample=1, progress=False)
    assert not outcome.ok
    row = outcome.rows.iloc[0]
    assert row["verdict"] == "not rerun"
    assert "arch:mlp: bb-mlp 9.9.9 -> benchbench" in row["detail"]
    assert "pip install bb-mlp==9.9.9" in row["detail"]
    again = bb.verify(path, sample=1, any_code=True, progress=False)
    assert again.ok, again.rows.to_dict("records")
    assert "rerun under the installed code" in again.rows.iloc[0]["detail"]
