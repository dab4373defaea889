"""One checker for every entry point: each argument of every function of the Python API that
has a rule is tried with values outside it, in Python and on the command line; both refuse
with the same sentence (the option named as each caller writes it), the command as one line
and exit status 2, before anything loads or trains."""

from __future__ import annotations

import inspect
import warnings

import click
import pytest
from click.testing import CliRunner

import benchbench as bb
import benchbench.api
from benchbench.arguments import RULES, Rule, check, choice, whole
from benchbench.cli import cli
from benchbench.phrasing import command_line

CALLS = {
    # function: (its required arguments, the command and its required arguments)
    "run": (("quick",), ["run", "quick"]),
    "run_one": (("digits", "mlp"), ["run-one", "--task", "digits", "--arch", "mlp"]),
    "tune": (("quick",), ["tune", "quick"]),
    "profile": (("digits",), ["profile", "digits"]),
    "verify": (("results.jsonl",), ["verify", "results.jsonl"]),
    "leaderboard_text": ((), ["leaderboard"]),
    "report": ((), ["report"]),
    "import_results": (("results.jsonl",), ["import", "results.jsonl"]),
    "check_plugin": (("some-plugin",), ["plugin", "check", "some-plugin"]),
    "new_plugin": (("thing",), ["plugin", "new", "thing"]),
    "catalog": ((), ["list"]),
}


def bad_values(rule: Rule) -> list[object]:
    """Values outside ``rule`` that the command line can spell too."""
    if rule.choices:
        return ["bogus"]
    found = []
    if rule.least is not None:
        found.append(rule.least - 1)
    if rule.above is not None:
        found += [rule.above, rule.above - 1]
    if rule.most is not None:
        found.append(rule.most + 0.5)
    return found


def checked_arguments() -> list[tuple[str, str, object]]:
    """(function, argument, bad value) for every checked argument of the API."""
    cases = []
    for name in benchbench.api.__all__:
        rules = getattr(getattr(bb, name), "rules", {})
        for argument, rule in rules.items():
            cases += [(name, argument, value) for value in bad_values(rule)]
    return cases


CASES = checked_arguments()


def test_the_walk_covers_the_arguments_the_issue_named():
    named = {(f, a) for f, a, _ in CASES}
    for case in [
        ("run", "seeds"),
        ("run", "workers"),
        ("run", "threads"),
        ("run_one", "steps"),
        ("run_one", "epochs"),
        ("run_one", "eval_every"),
        ("tune", "sampler"),
        ("tune", "pruner"),
        ("tune", "trials"),
        ("tune", "workers"),
        ("run", "numerics"),
        ("profile", "loader_workers"),
        ("verify", "sample"),
        ("import_results", "on_conflict"),
        ("report", "format"),
        ("leaderboard_text", "format"),
    ]:
        assert case in named, case
    assert set(CALLS) >= {f for f, _, _ in CASES}
    assert len(CASES) >= 50


@pytest.mark.parametrize(("function", "argument", "value"), CASES)
def test_the_api_and_the_command_refuse_a_value_with_the_same_sentence(
    function, argument, value, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)  # nothing may be written; if it were, not into the repo
    args, command = CALLS[function]
    with pytest.raises(bb.BenchbenchError) as refused:
        getattr(bb, function)(*args, **{argument: value})
    python = str(refused.value)
    assert python.startswith(f"{argument} must be"), python

    flag = "--" + argument.replace("_", "-")
    shown = f"{value:g}" if isinstance(value, float) else str(value)
    result = CliRunner().invoke(cli, [*command, flag, shown])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert lines == [f"benchbench: error: {flag}{python.removeprefix(argument)}"]
    assert list(tmp_path.iterdir()) == []  # refused before anything was made


def test_python_values_the_command_line_cannot_spell_are_refused_too():
    for value in (1.5, True, "3"):
        with pytest.raises(
            bb.BenchbenchError, match=r"^seeds must be a whole number of at least 1"
        ):
            bb.run("quick", seeds=value)
    with pytest.raises(bb.BenchbenchError, match=r"got 'cmaes'$"):
        bb.tune("quick", sampler="cmaes")


def test_the_sentences_say_the_bounds():
    with pytest.raises(bb.BenchbenchError) as refused:
        check("gpus_per_run", 1.5)
    assert str(refused.value) == "gpus_per_run must be a number above 0 and at most 1, got 1.5"
    with command_line(), pytest.raises(bb.BenchbenchError) as refused:
        check("steps", 3, whole(5))
    assert str(refused.value) == "--steps must be a whole number of at least 5, got 3"
    with pytest.raises(bb.BenchbenchError) as refused:
        check("pruner", "asha", choice(("median", "none")))
    assert str(refused.value) == "pruner must be one of median, none, got 'asha'"
    check("seeds", None)  # None: the default


def _commands(group: click.Group, prefix: tuple[str, ...] = ()):
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from _commands(command, (*prefix, name))
        else:
            yield (*prefix, name), command


def test_every_numeric_option_of_the_command_has_a_rule_and_every_choice_matches_the_api():
    functions = {
        tuple(w for w in command if not w.startswith("-"))[: 2 if command[0] == "plugin" else 1]: f
        for f, (_, command) in CALLS.items()
    }
    numeric = 0
    for path, command in _commands(cli):
        function = functions.get(path)
        api_rules = getattr(getattr(bb, function), "rules", {}) if function else {}
        for option in command.params:
            if not isinstance(option, click.Option):
                continue
            argument = option.name if option.name != "fmt" else "format"
            if isinstance(option.type, (click.types.IntParamType, click.types.FloatParamType)):
                numeric += 1
                if argument == "seed" and path == ("verify",):
                    continue  # the draw's seed: any integer
                assert argument in api_rules or (function is None and argument in RULES), (
                    path,
                    option.opts,
                )
            if option.metavar and option.metavar.startswith("[") and "|" in option.metavar:
                offered = option.metavar.strip("[]").split("|")
                if argument == "kind":
                    continue  # list and plugin new: unknown_name and the scaffold's kinds
                assert list(api_rules[argument].choices) == offered or sorted(
                    api_rules[argument].choices
                ) == sorted(offered), (path, option.opts)
    assert numeric >= 20


def test_old_names_still_work_for_one_release_with_a_warning():
    with pytest.warns(
        FutureWarning, match=r"tune\(parallel=\.\.\.\) is now tune\(workers=\.\.\.\)"
    ):
        with pytest.raises(bb.BenchbenchError, match="^workers must be"):
            bb.tune("quick", parallel=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(bb.BenchbenchError, match="^loader_workers must be"):
            bb.profile("digits", loader_workers=-1)
    assert "parallel" not in inspect.signature(bb.tune).parameters


WRONG = {
    "text": [5, ["a"]],
    "name_or_file": [5, ["a"]],
    "flag": ["no", 1],
    "path": [5, ["out"]],
    "names": ["tasks", [5]],
    "plugins": ["tasks", [5]],
    "mapping": [[1, 2], "a=1"],
}
"""Values of another type for each kind of argument (a string given for a list among them)."""

REQUIRED = {"suite": "quick", "task": "digits", "arch": "mlp", "name": "thing", "kind": "task"}


def typed_arguments() -> list[tuple[str, str, object]]:
    """(function, argument, a value of the wrong type) for every typed argument of the API."""
    cases = []
    for function in benchbench.api.__all__:
        for argument, rule in getattr(getattr(bb, function), "rules", {}).items():
            cases += [(function, argument, value) for value in WRONG.get(rule.kind, [])]
    return cases


TYPED = typed_arguments()


def test_every_function_of_the_api_checks_the_types_it_declares():
    """run_one(None, 'mlp'), hparams=[1, 2], device=5, leaderboard(5), fetch_data(['mnist'])
    raised TypeError or AttributeError from inside; plugins='tasks' was iterated letter by
    letter ("cannot import plugin module 't'")."""
    assert {f for f, _, _ in TYPED} == set(benchbench.api.__all__)  # each checks some
    for case in [
        ("run_one", "task"),
        ("run_one", "hparams"),
        ("run_one", "device"),
        ("run_one", "plugins"),
        ("leaderboard", "suite"),
        ("fetch_data", "tasks"),
        ("run", "out"),
        ("run", "progress"),
    ]:
        assert case in {(f, a) for f, a, _ in TYPED}, case
    assert len(TYPED) >= 100


@pytest.mark.parametrize(("function", "argument", "value"), TYPED)
def test_a_value_of_the_wrong_type_is_one_sentence_naming_the_argument(
    function, argument, value, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    signature = inspect.signature(getattr(bb, function))
    required = {
        name: REQUIRED.get(name, "x.jsonl")
        for name, parameter in signature.parameters.items()
        if parameter.default is inspect.Parameter.empty
        and parameter.kind is not inspect.Parameter.VAR_POSITIONAL
        and name != argument
    }
    spread = signature.parameters[argument].kind is inspect.Parameter.VAR_POSITIONAL
    with pytest.raises(bb.BenchbenchError) as refused:
        if spread:
            getattr(bb, function)(value, **required)
        else:
            getattr(bb, function)(**required, **{argument: value})
    assert str(refused.value).startswith(f"{argument} must be "), str(refused.value)
    assert f"({type(value).__name__})" in str(refused.value)
    assert list(tmp_path.iterdir()) == []  # refused before anything was made
    if signature.parameters[argument].default is inspect.Parameter.empty and not spread:
        with pytest.raises(bb.BenchbenchError, match=f"^{argument} must be given, got None$"):
            getattr(bb, function)(**required, **{argument: None})


def test_a_suite_file_may_be_given_as_a_path(tmp_path):
    """bb.run(pathlib.Path('my.toml')) worked before the types were checked, and still does:
    a suite, task or component's name may be a file's path, as text or a pathlib.Path."""
    path = tmp_path / "p.toml"
    path.write_text(
        'seeds = 1\nbudget = { steps = 3 }\n[[tracks]]\nname = "t"\nkind = "regularizer"\n'
        'candidates = ["none"]\ntasks = ["digits"]\nfixed = { arch = "mlp" }\n'
    )
    outcome = bb.run(path, out=tmp_path / "out", progress=False)
    assert outcome.dispatched.stored == {"ok": 1} and outcome.suite == "p"
    assert len(bb.results(out=tmp_path / "out", suite=path)) == 1
