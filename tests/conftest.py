"""Shared fixtures: one data folder for the whole session (MNIST-1D is generated once).

Before anything, the sources are compiled to bytecode once: with ``PYTHONDONTWRITEBYTECODE``
set (as on the CI machines) every process the tests start (the command, its worker
processes, scripts) would otherwise compile benchbench and its plugins again, about half a
second each, a minute or more over the whole run."""

from __future__ import annotations

import compileall
from pathlib import Path

for _folder in ("benchbench", "plugins", "tests"):
    compileall.compile_dir(Path(__file__).parents[1] / _folder, quiet=2)

from benchbench.host import numerics  # noqa: E402

numerics.select("portable")  # before torch loads here: tests that train in-process honour it

import pytest  # noqa: E402

from benchbench.plugins import PluginConfig, get_plugin_manager  # noqa: E402


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory):
    """One data folder for the session, with tiny standard datasets in their real formats."""
    from fake_datasets import fake_standard_datasets

    folder = tmp_path_factory.mktemp("data")
    fake_standard_datasets(folder)
    return folder


@pytest.fixture(autouse=True)
def _data_env(data_dir, monkeypatch):
    monkeypatch.setenv("BENCHBENCH_DATA", str(data_dir))
    monkeypatch.delenv("BENCHBENCH_DISABLE_PLUGIN_AUTOLOAD", raising=False)


@pytest.fixture
def pm():
    """Built-in plugins plus the test plugin (tiny task, misbehaving regularizers)."""
    return get_plugin_manager(PluginConfig(modules=("bb_test_plugin",)))


@pytest.fixture
def registry(pm):
    return pm.registry
