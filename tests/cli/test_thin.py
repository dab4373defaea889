"""The command line holds no policy: each command parses its options, calls the Python API
(:mod:`benchbench.api`) and prints what it returns."""

from __future__ import annotations

import ast
from pathlib import Path

import benchbench.cli

CLI = Path(benchbench.cli.__file__).parent
PRINTING = {"json", "sys", "textwrap", "dataclasses", "tabulate"}
"""What a command body may import besides the API: the means to print."""


def _commands() -> list[tuple[str, ast.FunctionDef]]:
    found = []
    for path in sorted(CLI.glob("*.py")):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.FunctionDef) and any(
                "command" in ast.unparse(d) or "group" in ast.unparse(d)
                for d in node.decorator_list
            ):
                found.append((f"{path.name}:{node.name}", node))
    return found


def test_every_command_imports_only_the_api_and_the_means_to_print():
    commands = _commands()
    assert len(commands) >= 13  # list show run run-one tune profile leaderboard report ...
    for where, command in commands:
        for node in ast.walk(command):
            if isinstance(node, ast.ImportFrom) and node.level:
                assert (
                    node.level == 2
                    and node.module in ("api", "spec")
                    or (node.level == 1 and node.module == "text")
                ), f"{where} imports .{'.' * (node.level - 1)}{node.module}"
            elif isinstance(node, ast.ImportFrom | ast.Import):
                names = (
                    [node.module]
                    if isinstance(node, ast.ImportFrom)
                    else [a.name for a in node.names]
                )
                assert set(names) <= PRINTING, f"{where} imports {names}"


def test_every_command_calls_the_api_once():
    for where, command in _commands():
        if any("group(" in ast.unparse(d) for d in command.decorator_list):
            continue  # the groups: options, no work
        api_names = {
            alias.asname or alias.name
            for node in ast.walk(command)
            if isinstance(node, ast.ImportFrom) and node.module == "api"
            for alias in node.names
        }
        calls = [
            node
            for node in ast.walk(command)
            if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in api_names
        ]
        assert len(calls) == 1, f"{where} calls the API {len(calls)} times"


def test_the_modules_of_the_command_line_import_no_core_package():
    core = {"running", "storage", "tuning", "ranking", "reporting", "training", "authoring"}
    for path in CLI.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 2 and node.module:
                masking = path.name == "options.py" and node.module == "storage.database"
                top = node.module.split(".")[0]
                assert top not in core or masking, f"{path.name} imports ..{node.module}"
