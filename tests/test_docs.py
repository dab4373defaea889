"""The documentation site leaves nothing public out: every hook, every function of the Python
API, every name a plugin author imports, every command and every module has a docstring and a
place in ``docs/``. (CI builds the site itself strictly: ``sphinx-build -W -n``.)"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import click

import benchbench
import benchbench.api
import benchbench.hookspecs
from benchbench.cli import cli

DOCS = Path(__file__).parents[1] / "docs"


def _directives(page: str) -> set[str]:
    """The objects a page renders with an autodoc directive."""
    text = (DOCS / page).read_text()
    return set(
        re.findall(r"^\.\. auto\w+:: ([\w.]+)", text, re.MULTILINE)
    )  # a signature may follow


def _documented(obj: object) -> bool:
    doc = inspect.getdoc(obj) or ""
    return len(doc.split()) >= 5  # a sentence, not a placeholder


def test_every_hook_has_its_call_semantics_on_the_hooks_page():
    hooks = [name for name in dir(benchbench.hookspecs) if name.startswith("benchbench_")]
    assert len(hooks) >= 5
    shown = _directives("plugins/hooks.md")
    for name in hooks:
        assert _documented(getattr(benchbench.hookspecs, name)), f"hook {name} has no docstring"
        assert f"benchbench.hookspecs.{name}" in shown, f"hook {name} is not on the hooks page"


def test_every_function_of_the_python_api_is_in_the_reference():
    shown = _directives("reference/api.md")
    assert len(benchbench.api.__all__) >= 13
    for name in benchbench.api.__all__:
        function = getattr(benchbench, name)  # re-exported at the top
        assert function is getattr(benchbench.api, name)
        assert _documented(function), f"bb.{name} has no docstring"
        assert f"benchbench.{name}" in shown, f"bb.{name} is not in docs/reference/api.md"
        params = [p for p in inspect.signature(function).parameters if p not in ("plugins",)]
        doc = inspect.getdoc(function) or ""
        named = [p for p in params if p in doc or p.replace("_", " ") in doc]
        assert len(named) >= min(2, len(params)), f"bb.{name}'s docstring names no argument"


def test_everything_a_plugin_author_imports_is_documented():
    shown = set().union(*(_directives(p) for p in ("plugins/contract.md", "plugins/hooks.md")))
    shown |= _directives("reference/api.md")
    for name in set(benchbench.__all__) - set(benchbench.api.__all__):
        assert _documented(getattr(benchbench, name)), f"benchbench.{name} has no docstring"
        assert f"benchbench.{name}" in shown, f"benchbench.{name} is not in the docs"


def test_every_command_has_help_and_the_reference_renders_the_whole_group():
    def walk(group: click.Group, prefix: str) -> list[tuple[str, click.Command]]:
        found = []
        for name, command in group.commands.items():
            found.append((f"{prefix} {name}", command))
            if isinstance(command, click.Group):
                found += walk(command, f"{prefix} {name}")
        return found

    commands = walk(cli, "benchbench")
    assert len(commands) >= 13
    for name, command in commands:
        assert command.help and len(command.help.split()) >= 5, f"{name} has no help"
        for option in command.params:
            if isinstance(option, click.Option) and option.name not in ("help",):
                assert option.help, f"{name} {option.opts[0]} has no help"
    text = (DOCS / "reference/cli.md").read_text()
    assert ".. click:: benchbench.cli:cli" in text and ":nested: full" in text


def test_every_module_has_a_docstring_and_a_place_in_the_docs():
    shown = set().union(*(_directives(str(p.relative_to(DOCS))) for p in DOCS.rglob("*.md")))
    modules = [
        m.name
        for m in pkgutil.walk_packages(benchbench.__path__, "benchbench.")
        if not m.name.endswith("__main__")
    ]
    assert len(modules) >= 60
    for name in ["benchbench", *modules]:
        assert _documented(importlib.import_module(name)), f"{name} has no docstring"
        assert name in shown or name == "benchbench", f"module {name} is in no page of docs/"
