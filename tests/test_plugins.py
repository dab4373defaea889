import textwrap

import pytest

from benchbench import BenchbenchError, Regularizer
from benchbench.plugins import PluginConfig, Registry, get_plugin_manager

BUILT_INS = {
    "task": {"digits", "mnist1d"},
    "arch": {"mlp", "cnn"},
    "regularizer": {"none", "label-smoothing"},
    "ssl": {"supervised"},
    "finetune": {"full"},
}


def test_built_ins_are_found_through_entry_points():
    pm = get_plugin_manager(PluginConfig())
    registry = pm.registry
    for kind, names in BUILT_INS.items():
        assert names <= set(registry.entries[kind])
        for name in names:
            origin = registry.entries[kind][name].origin
            assert origin.distribution == "benchbench" and origin.version
    assert {"quick", "default"} <= set(registry.suites)
    assert pm.errors == []
    plugins = {p["plugin"]: p for p in pm.active_plugins()}
    assert plugins["archs"]["distribution"] == "benchbench"


def test_dash_p_loads_a_local_module(pm):
    entry = pm.registry.entries["task"]["blobs"]
    assert entry.origin.plugin == "bb_test_plugin"
    assert entry.origin.distribution is None
    assert "digits" in pm.registry.entries["task"]


def test_autoload_can_be_turned_off(monkeypatch):
    monkeypatch.setenv("BENCHBENCH_DISABLE_PLUGIN_AUTOLOAD", "1")
    config = PluginConfig.from_env(("bb_test_plugin",))
    assert config.autoload is False
    registry = get_plugin_manager(config).registry
    assert set(registry.entries["task"]) == {"blobs", "slow-blobs", "watched-blobs"}
    assert registry.entries["arch"] == {} and registry.suites == {}


def test_dash_p_no_blocks_an_installed_plugin():
    registry = get_plugin_manager(PluginConfig(modules=("no:tasks",))).registry
    assert registry.entries["task"] == {}
    assert "mlp" in registry.entries["arch"]


def test_duplicate_names_are_an_error_naming_both_origins():
    pm = get_plugin_manager(PluginConfig(modules=("bb_duplicate_plugin",)))
    with pytest.raises(BenchbenchError) as info:
        _ = pm.registry
    message = str(info.value)
    assert "two regularizer components are named 'none'" in message
    assert "benchbench 0.1.0" in message and "-p bb_duplicate_plugin" in message


def test_registering_the_same_class_twice_is_harmless():
    class Noise(Regularizer):
        name = "noise"
        summary = "noise"

        def transform(self, x, targets, generator):
            return x, targets

    registry = Registry()
    registry.add(Noise)
    registry.add(Noise)
    assert registry.get("regularizer", "noise") is Noise


def test_unknown_names_suggest_close_ones(registry):
    with pytest.raises(BenchbenchError, match=r"unknown arch 'mpl'; did you mean 'mlp'"):
        registry.get("arch", "mpl")


def test_a_broken_entry_point_is_reported_and_the_rest_still_work(tmp_path, monkeypatch):
    dist = tmp_path / "broken_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[benchbench]\nbroken = bb_missing_module_xyz\n")
    (tmp_path / "bb_raising_module.py").write_text("raise ImportError('needs a GPU library')\n")
    (dist / "entry_points.txt").write_text(
        textwrap.dedent("""\
        [benchbench]
        broken = bb_missing_module_xyz
        raising = bb_raising_module
        """)
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    pm = get_plugin_manager(PluginConfig())
    errors = dict(pm.errors)
    assert "ModuleNotFoundError" in errors["broken"]
    assert errors["raising"] == "ImportError: needs a GPU library"
    assert "digits" in pm.registry.entries["task"]


def test_a_misspelled_hook_is_reported():
    with pytest.raises(
        BenchbenchError,
        match=r"benchbench_register_component is not a benchbench hook: did you mean "
        r"benchbench_register_components\?",
    ):
        get_plugin_manager(PluginConfig(modules=("bb_misspelled_plugin",)))


def test_a_missing_dash_p_module_is_one_clear_error():
    with pytest.raises(BenchbenchError, match="cannot import plugin module 'bb_nowhere'"):
        get_plugin_manager(PluginConfig(modules=("bb_nowhere",)))
