"""Result sets and suite files as someone hostile or careless would write them: each is one
clear line (exit status 2) and changes nothing stored, and no name reaches a path outside
its folder."""

from __future__ import annotations

import gzip
import json
import os
import signal
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

import benchbench as bb
from benchbench.cli import cli
from benchbench.storage.store import Store


def invoke(*args):
    return CliRunner().invoke(cli, [*args], catch_exceptions=False)


@pytest.fixture(scope="module")
def made(tmp_path_factory, data_dir):
    """Two short real runs (best validation accuracy near 0.55), stored as places of a suite named ``shared``, exported."""
    folder = tmp_path_factory.mktemp("made")
    url = f"sqlite:///{folder / 'made.db'}"
    results = [
        bb.run_one("digits", "mlp", steps=5, seed=s, device="cpu", storage=url, data_dir=data_dir)
        for s in (0, 1)
    ]
    return folder, url, results


def _suite_set(made, tmp_path, suite, candidate="mlp"):
    """The runs as places of ``suite`` (with ``candidate`` as their label), exported."""
    folder, url, results = made
    store = Store(url)
    places = [
        SimpleNamespace(
            track="arch", task="digits", candidate=candidate, seed=r.seed, baseline=True,
            spec=r.spec(),
        )
        for r in results
    ]  # fmt: skip
    store.set_places(suite, suite, "hostile", places)
    path = tmp_path / f"set-{abs(hash(suite))}.jsonl"
    bb.export(path, suite=suite, storage=url)
    return path


def _lines(path):
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt") as lines:
        return [json.loads(line) for line in lines]


def _write(path, rows):
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "wt") as out:
        out.writelines(json.dumps(r, sort_keys=True) + "\n" for r in rows)


def _stored(out):
    db = Path(out) / "benchbench.db"
    return Store(f"sqlite:///{db}").run_ids() if db.exists() else []


@pytest.mark.parametrize(
    "suite", ["/anywhere/PWN", "../../escaped", "x" * 300, "nul\x00byte", "..", ".hidden"]
)
def test_an_imported_suite_name_never_writes_outside_the_report_folder(made, tmp_path, suite):
    path = _suite_set(made, tmp_path, suite)
    out = tmp_path / "out"
    assert invoke("import", str(path), "--out", str(out)).exit_code == 0
    written = bb.report(out=out, format="both")
    reports = (out / "reports").resolve()
    assert len(written) == 2
    for file in written:
        assert file.resolve().parent == reports, file
        assert len(file.name) < 120
    assert not Path("/anywhere").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["out", path.name])


def test_a_result_that_contradicts_its_own_curve_is_refused_at_import(made, tmp_path):
    path = _suite_set(made, tmp_path, "shared")
    rows = _lines(path)
    result = next(r for r in rows if r.get("table") == "runs")["row"]["result"]
    result["test_accuracy"] = 0.999  # the run id hashes the spec, not the result
    _write(path, rows)
    done = invoke("import", str(path), "--out", str(tmp_path / "out"))
    assert done.exit_code == 2
    assert "contradicts itself: test accuracy 0.999 lies" in done.output
    assert done.output.count("\n") == 1
    assert _stored(tmp_path / "out") == []


def test_a_run_stored_with_other_numbers_is_a_conflict_on_conflict_decides(made, tmp_path):
    path = _suite_set(made, tmp_path, "shared")
    other = tmp_path / "other.jsonl"
    rows = _lines(path)
    first = next(r for r in rows if r.get("table") == "runs")["row"]["result"]
    edited = min(1.0, first["test_accuracy"] + 0.01)  # plausible, and not what the run gives
    first["test_accuracy"] = edited
    _write(other, rows)
    out = tmp_path / "out"
    assert invoke("import", str(path), "--out", str(out)).exit_code == 0
    done = invoke("import", str(other), "--out", str(out))
    assert done.exit_code == 0
    assert "1 runs stored here with other numbers (1 test_accuracy); kept the stored" in done.output
    assert f"{first['run_id']} (digits/mlp seed" in done.output
    assert "they should be identical" in done.output
    store = Store(f"sqlite:///{out / 'benchbench.db'}")
    assert store.results([first["run_id"]])[0].test_accuracy != edited
    failed = invoke("import", str(other), "--out", str(out), "--on-conflict", "fail")
    assert failed.exit_code == 2 and "nothing was imported" in failed.output
    assert (
        invoke("import", str(other), "--out", str(out), "--on-conflict", "replace").exit_code == 0
    )
    assert store.results([first["run_id"]])[0].test_accuracy == edited
    # two sources that disagree never make a leaderboard silently, in either order
    for order in ((path, other), (other, path)):
        args = [a for p in order for a in ("--source", str(p))]
        board = invoke("leaderboard", *args)
        assert board.exit_code == 2 and "other numbers" in board.output


def test_an_import_is_all_or_nothing(made, tmp_path):
    path = _suite_set(made, tmp_path, "shared")
    rows = _lines(path)
    rows.append({"table": "places", "row": {"suite": "shared", "track": "arch"}})
    _write(path, rows)
    done = invoke("import", str(path), "--out", str(tmp_path / "out"))
    assert done.exit_code == 2 and done.output.count("\n") == 1
    assert f"line {len(rows)}: the places row's 'task' must be str" in done.output
    assert _stored(tmp_path / "out") == []


@pytest.mark.parametrize(
    ("damage", "fragment"),
    [
        ("garbage-gzip", "bad.jsonl.gz"),  # "cannot read" or "not a result set": one line
        ("created_at", "created_at is not a date"),
        ("format_version", "format_version must be a whole number"),
        ("places-missing", "the places row's 'seed' must be int"),
        ("tunings-missing", "the tunings row's 'summary' must be str"),
        ("nan", "not JSON"),
    ],
)
def test_damaged_result_files_are_one_line_everywhere_they_are_read(
    made, tmp_path, damage, fragment
):
    path = _suite_set(made, tmp_path, "shared")
    bad = tmp_path / "bad.jsonl.gz"
    rows = _lines(path)
    if damage == "garbage-gzip":
        raw = gzip.compress("\n".join(json.dumps(r) for r in rows).encode())
        half = len(raw) // 2  # the header line intact, garbage inside the stream
        bad.write_bytes(raw[:half] + bytes(range(256)) * 2 + raw[half + 512 :])
    else:
        if damage == "created_at":
            next(r for r in rows if r.get("table") == "runs")["row"]["created_at"] = "yesterday"
        elif damage == "format_version":
            rows[0]["format_version"] = "1"
        elif damage == "places-missing":
            del next(r for r in rows if r.get("table") == "places")["row"]["seed"]
        elif damage == "tunings-missing":
            rows.append({"table": "tunings", "row": {"suite": "s", "track": "t", "task": "x",
                                                     "candidate": "c"}})  # fmt: skip
        _write(bad, rows)
        if damage == "nan":
            text = gzip.decompress(bad.read_bytes()).decode().replace('"seed": 0', '"seed": NaN')
            bad.write_bytes(gzip.compress(text.encode()))
    mine = tmp_path / "mine"
    assert invoke("import", str(path), "--out", str(mine)).exit_code == 0
    for args in (
        ("import", str(bad), "--out", str(tmp_path / "out")),
        ("leaderboard", "--source", str(bad)),
        ("report", "--out", str(mine), "--against", str(bad), "--to", str(tmp_path / "r.html")),
    ):
        done = invoke(*args)
        assert done.exit_code == 2, (args, done.output)
        assert done.output.count("\n") == 1 and fragment in done.output, (args, done.output)


def test_a_missing_database_as_a_source_is_one_line_and_not_created(tmp_path):
    for source in (str(tmp_path / "missing.db"), f"sqlite:///{tmp_path / 'missing.db'}"):
        done = invoke("leaderboard", "--source", source)
        assert done.exit_code == 2 and done.output.count("\n") == 1, done.output
        assert not (tmp_path / "missing.db").exists()


def test_a_report_that_cannot_be_written_is_one_line(made, tmp_path):
    path = _suite_set(made, tmp_path, "shared")
    out = tmp_path / "out"
    assert invoke("import", str(path), "--out", str(out)).exit_code == 0
    (tmp_path / "a-file").write_text("")
    done = invoke("report", "--out", str(out), "--to", str(tmp_path / "a-file" / "r.html"))
    assert done.exit_code == 2 and done.output.count("\n") == 1
    assert "cannot write the report to" in done.output


def test_leaderboard_markdown_keeps_labels_literal(made, tmp_path):
    label = '<script>alert(1)</script><img src=x onerror="x()">|'
    path = _suite_set(made, tmp_path, "shared", candidate=label)
    out = tmp_path / "out"
    assert invoke("import", str(path), "--out", str(out)).exit_code == 0
    text = bb.leaderboard_text(out=out, format="markdown")
    assert "<script>" not in text and "<img" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=" in text


def test_a_signal_during_an_import_rolls_the_file_back_and_says_so():
    from benchbench.errors import Stopped
    from benchbench.storage.files import _stopped_by_signals

    with pytest.raises(Stopped) as info, _stopped_by_signals(["one.jsonl"]):
        os.kill(os.getpid(), signal.SIGTERM)
    assert info.value.exit_code == 143
    assert "1 files imported whole, the one being imported left out" in info.value.message


@pytest.mark.parametrize(
    ("name", "text", "fragment"),
    [
        (
            "bomb.yaml",
            "a: &a [x, x, x, x, x, x, x, x, x]\n"
            + "".join(
                f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n"
                for i in range(8)
            )
            + "seeds: *i\ntracks: []\n",
            "aliases (*name) are not allowed in a suite file",
        ),
        ("deep.toml", "a = " + "{b = " * 900 + "1" + "}" * 900 + "\n", "suite"),
    ],
)
def test_a_suite_file_built_to_explode_is_one_line(tmp_path, name, text, fragment):
    path = tmp_path / name
    path.write_text(text)
    done = invoke("run", str(path), "--out", str(tmp_path / "out"))
    assert done.exit_code == 2, done.output
    assert done.output.count("\n") == 1 and fragment in done.output
