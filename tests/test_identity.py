"""Run identity covers the code that made a run: versions, source fingerprints, staleness."""

import hashlib
import json
import os
import sys

import pandas as pd
import pytest
from click.testing import CliRunner

from benchbench import identity
from benchbench.cli import cli
from benchbench.planning.resolve import resolve_spec
from benchbench.plugins import PluginConfig, get_plugin_manager
from benchbench.ranking import rank
from benchbench.spec import RunSpec
from benchbench.storage.store import Store, default_url
from benchbench.tuning.study import Target, TuningConfig, study_name

PLUGIN = """
import benchbench
from benchbench_regularizers.basic import LabelSmoothing


class Versioned(LabelSmoothing):
    name = "versioned"
    summary = "label smoothing that a plugin author versions"
    version = {version}


@benchbench.hookimpl
def benchbench_register_components(registry):
    registry.add(Versioned)
"""
SUITE = """
seeds = 2
budget = { steps = 4 }

[[tracks]]
name = "regs"
kind = "regularizer"
candidates = ["none", "versioned"]
tasks = ["blobs"]
fixed = { arch = "mlp" }
"""


@pytest.fixture
def plugin_dir(tmp_path, monkeypatch):
    """A folder on the path (of this process and of pool workers) for plugin modules that a
    test rewrites; no bytecode, so a rewrite within one second is never read stale."""
    folder = tmp_path / "plugins"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(folder), *sys.path]))
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    yield folder
    for name in [m for m in sys.modules if m.startswith("bb_versioned")]:
        del sys.modules[name]


def write_module(folder, name, text):
    (folder / f"{name}.py").write_text(text)
    sys.modules.pop(name, None)
    identity.source_fingerprint.cache_clear()
    identity._version.cache_clear()


def test_identity_rules_declared_released_and_source(plugin_dir):
    write_module(plugin_dir, "bb_versioned_a", PLUGIN.format(version=3))
    import bb_versioned_a

    cls = bb_versioned_a.Versioned
    assert identity.component_identity(cls, "bb-extra", "x") == "bb-extra (versioned version 3)"
    assert identity.component_identity(cls, None, "bb_versioned_a") == (
        "-p bb_versioned_a (versioned version 3)"
    )
    # released: a wheel's RECORD lists the module file with its hash
    (plugin_dir / "relpkg").mkdir()
    module = plugin_dir / "relpkg" / "__init__.py"
    module.write_text("VALUE = 1\n")
    info = plugin_dir / "relpkg-1.2.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: relpkg\nVersion: 1.2.3\n")
    (info / "RECORD").write_text("relpkg/__init__.py,sha256=abc,10\n")
    assert identity._release("relpkg", module) == (True, "1.2.3")
    (info / "RECORD").write_text("__editable__.relpkg.pth,sha256=abc,10\n")  # editable
    assert identity._release("relpkg", module) == (False, "1.2.3")
    assert identity._release("not-installed-anywhere", module) == (False, "0")


def test_source_fingerprint_follows_the_imports_it_makes(plugin_dir):
    package = plugin_dir / "bb_versioned_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "helper.py").write_text("SCALE = 2\n")
    (package / "other.py").write_text("UNUSED = 1\n")
    (package / "comp.py").write_text("def f():\n    from .helper import SCALE\n    return SCALE\n")
    expected = hashlib.sha256()
    for name in ("bb_versioned_pkg.comp", "bb_versioned_pkg.helper"):  # sorted by name
        path = package / f"{name.rpartition('.')[2]}.py"
        expected.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    first = identity.source_fingerprint("bb_versioned_pkg.comp")
    assert first == expected.hexdigest()[:12]

    (package / "other.py").write_text("UNUSED = 2\n")  # not imported: same code
    identity.source_fingerprint.cache_clear()
    assert identity.source_fingerprint("bb_versioned_pkg.comp") == first
    (package / "helper.py").write_text("SCALE = 3\n")  # imported inside a function
    identity.source_fingerprint.cache_clear()
    assert identity.source_fingerprint("bb_versioned_pkg.comp") != first


def test_a_plugin_counts_the_core_modules_its_public_names_come_from_and_no_more(plugin_dir):
    write_module(
        plugin_dir,
        "bb_versioned_public",
        "from typing import TYPE_CHECKING\n\nimport benchbench\nfrom benchbench import Float, "
        "Regularizer\n\nif TYPE_CHECKING:\n    from benchbench.reporting import report\n",
    )
    files = identity.sources("bb_versioned_public")
    # the modules that define Regularizer and Float (and what they import), not the index
    # (benchbench/__init__.py) and not what only a type checker reads
    assert {"bb_versioned_public", "benchbench.components", "benchbench.params"} <= set(files)
    assert "benchbench" not in files and "benchbench.api" not in files
    assert not [n for n in files if n.startswith(("benchbench.reporting", "benchbench.storage"))]
    assert all(p.suffix == ".py" and p.exists() for p in files.values())


def test_a_spec_carries_its_code_and_the_run_id_hashes_it(registry):
    spec = resolve_spec(registry, task="blobs", arch="mlp", regularizer="label-smoothing+explode")
    assert set(spec.code) == {
        "benchbench",
        "task:blobs",
        "arch:mlp",
        "regularizer:label-smoothing",
        "regularizer:explode",
        "ssl:supervised",
        "finetune:full",
        "optimizer:adamw",
    }
    assert spec.code["benchbench"].startswith("benchbench ")
    assert spec.code["task:blobs"].startswith("-p bb_test_plugin 0+src.")
    other = RunSpec.from_dict({**spec.to_dict(), "code": {**spec.code, "arch:mlp": "x 2"}})
    assert other.run_id != spec.run_id and other.config_id == spec.config_id
    assert RunSpec.from_dict(spec.to_dict()).run_id == spec.run_id
    # a spec without code (made by hand, or stored before code was recorded) keeps its id
    bare = RunSpec.from_dict({k: v for k, v in spec.to_dict().items() if k != "code"})
    assert bare.run_id == spec.config_id


@pytest.mark.e2e  # a flow across several commands, each with its worker processes: with the end-to-end ones
def test_a_version_bump_retrains_never_mixes_and_starts_a_new_study(tmp_path, plugin_dir):
    write_module(plugin_dir, "bb_versioned", PLUGIN.format(version=1))
    suite, out = tmp_path / "mine.toml", tmp_path / "out"
    suite.write_text(SUITE)

    def run():
        args = ["-p", "bb_test_plugin", "-p", "bb_versioned", "run", str(suite), "--out", str(out)]
        result = CliRunner().invoke(cli, [*args, "--device", "cpu"], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    def study():
        pm = get_plugin_manager(PluginConfig(modules=("bb_test_plugin", "bb_versioned")))
        target = Target(task="blobs", arch="mlp", regularizer="versioned")
        return study_name(target, TuningConfig(trials=2), pm)

    first, first_study = run(), study()
    assert "4 runs, 0 already stored, 4 to run" in first

    write_module(plugin_dir, "bb_versioned", PLUGIN.format(version=2))
    second = run()
    assert "4 runs, 2 already stored, 2 to run" in second  # "none" did not change
    assert (
        "2 stored results of these runs were made by other code and are not reused: "
        "regularizer:versioned: -p bb_versioned (versioned version 1) -> "
        "-p bb_versioned (versioned version 2) (2)"
    ) in second
    assert study() != first_study

    store = Store(default_url(out), writable=False)
    assert len(store.results()) == 6
    board = rank.build(store.frame())
    row = board.set_index("candidate").loc["versioned"]
    assert row["seeds"] == 2  # the two new seeds only, never the old ones beside them
    assert row["regularizer_origin"] == "versioned: -p bb_versioned (versioned version 2)"
    md = (out / "leaderboards" / "mine.md").read_text()
    assert "- -p bb_versioned (versioned version 2): regularizer versioned" in md
    assert "versioned version 1" not in md


def test_the_leaderboard_gives_each_code_variant_its_own_row():
    def run(seed, version, accuracy):
        code = {"benchbench": "benchbench 1.0", "regularizer:mixup": f"bb-mixup {version}"}
        return {
            "suite": "s", "suite_name": "s", "track": "t", "task": "digits",
            "candidate": "mixup", "seed": seed, "baseline": False, "run_id": f"{version}{seed}",
            "status": "ok", "test_accuracy": accuracy, "time_to_target_s": 1.0,
            "train_seconds": 1.0, "samples_per_s": 10.0, "data_wait_fraction": 0.1,
            "params": 10, "device": "cpu", "code": json.dumps(code, sort_keys=True),
        }  # fmt: skip

    frame = pd.DataFrame(
        [run(0, "0.3.1", 0.5), run(1, "0.3.1", 0.7), run(0, "0.3.2", 0.8), run(1, "0.3.2", 0.9)]
    )
    board = rank.build(frame).set_index("candidate")
    assert sorted(board.index) == ["mixup [mixup: bb-mixup 0.3.1]", "mixup [mixup: bb-mixup 0.3.2]"]
    new, old = (
        board.loc["mixup [mixup: bb-mixup 0.3.2]"],
        board.loc["mixup [mixup: bb-mixup 0.3.1]"],
    )
    assert new["seeds"] == old["seeds"] == 2
    assert new["test_accuracy_mean"] == pytest.approx(0.85)
    assert old["test_accuracy_mean"] == pytest.approx(0.6)
    assert (new["rank"], old["rank"]) == (1, 2)
    assert new["benchbench_version"] == "benchbench 1.0"


def test_run_tuned_refuses_settings_tuned_with_other_code():
    from types import SimpleNamespace

    from benchbench.errors import BenchbenchError
    from benchbench.tuning.suite import check_tuned_code

    code = {"benchbench": "benchbench 1.0", "regularizer:mixup": "bb-mixup 0.3.2"}
    spec = SimpleNamespace(code=code)
    planned = [SimpleNamespace(track="regs", task="digits", candidate="mixup", spec=spec)]
    check_tuned_code("s-tuned", {("regs", "digits", "mixup"): {"code": code}}, planned)
    old = {("regs", "digits", "mixup"): {"code": {**code, "regularizer:mixup": "bb-mixup 0.3.1"}}}
    with pytest.raises(BenchbenchError) as refused:
        check_tuned_code("s-tuned", old, planned)
    assert str(refused.value) == (
        "suite s-tuned: 1 places were tuned with other code than they would run with (such as "
        "regs/digits/mixup: regularizer:mixup: bb-mixup 0.3.1 -> bb-mixup 0.3.2); call "
        "bb.tune('s') again"
    )
