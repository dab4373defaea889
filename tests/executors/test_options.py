"""An executor's options: declared once, checked in one place, the same sentence from the
command and the API; what registration refuses; the flags the command line makes of them."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

import benchbench as bb
from benchbench import BenchbenchError, Executor, ExecutorOption
from benchbench.cli import cli
from benchbench.executors.base import Placement
from benchbench.phrasing import command_line
from benchbench.plugins.registry import Registry


def test_values_are_parsed_by_their_declared_type_from_python_or_text():
    count = ExecutorOption("cpus", int, "CPUs", minimum=1)
    assert count.flag == "--cpus" and count.parse("4") == 4 and count.parse(4) == 4
    assert count.parse(None) is None
    share = ExecutorOption("share", float, "a share", 0.5, minimum=0)
    assert share.parse("0.25") == 0.25 and share.parse(1) == 1.0 and share.parse(None) == 0.5
    names = ExecutorOption("extra", str, "repeatable", multiple=True)
    assert (
        names.default == () and names.parse("a") == ("a",) and names.parse(["a", 1]) == ("a", "1")
    )
    flag = ExecutorOption("exclusive", bool, "a flag")
    assert flag.parse(True) is True
    refusals = [
        (count, "four", "--cpus must be a whole number, got 'four'"),
        (count, 2.5, "--cpus must be a whole number, got 2.5"),
        (count, True, "--cpus must be a whole number, got true"),
        (count, 0, "--cpus must be at least 1, got 0"),
        (share, "half", "--share must be a number, got 'half'"),
        (flag, "yes", "--exclusive is a flag: true or false, got 'yes'"),
        (names, [[1]], "--extra takes text, got [1]"),
    ]
    for option, value, sentence in refusals:
        with command_line(), pytest.raises(BenchbenchError) as refused:
            option.parse(value)
        assert str(refused.value) == sentence
        with pytest.raises(BenchbenchError) as refused:  # a Python caller's words
            option.parse(value)
        assert str(refused.value) == sentence.removeprefix("--")


def test_declarations_that_cannot_work_are_refused_at_once():
    for args, problem in [
        (("Cpus", int), "must be a snake_case Python name"),
        (("cpus", list), "type must be str, int, float or bool"),
        (("exclusive", bool, "", None, True), "a flag cannot be given several times"),
        (("cpus", int, "two\nlines"), "keep its help to one line"),
    ]:
        with pytest.raises(ValueError, match=problem):
            ExecutorOption(*args)


class _Base(Executor):
    name, summary = "base", "a test executor"

    def submit(self, job):  # pragma: no cover - never placed
        raise NotImplementedError

    def wait(self, timeout):  # pragma: no cover
        return []

    busy = 0

    def stop(self):  # pragma: no cover
        pass


def test_registration_refuses_an_executor_that_breaks_the_contract():
    def refused(**attrs):
        cls = type("Broken", (_Base,), attrs)
        with pytest.raises((ValueError, TypeError)) as error:
            Registry().add_executor(cls)
        return str(error.value)

    assert "must be kebab-case" in refused(name="My_Exec")
    assert "give it a one-line summary" in refused(summary="")
    assert "--timeout is one every run already has" in refused(
        options=(ExecutorOption("timeout", float),), __init__=lambda self, p, **o: None
    )
    assert "declares --queue twice" in refused(
        options=(ExecutorOption("queue"), ExecutorOption("queue")),
        __init__=lambda self, p, **o: None,
    )
    assert "its __init__ does not take its option(s) queue" in refused(
        options=(ExecutorOption("queue"),)
    )
    with pytest.raises(TypeError, match="not a benchbench Executor subclass"):
        Registry().add_executor(dict)
    registry = Registry()
    registry.add_executor(_Base)
    with pytest.raises(ValueError, match="two executors are named 'base'"):
        registry.add_executor(type("Other", (_Base,), {}))


def test_the_command_and_the_api_refuse_a_value_with_the_same_sentence(tmp_path):
    """The flags come from the declarations (a -p module's executor too), and a bad value or
    an option of another executor is the same one line from both sides, before anything
    runs."""
    runner = CliRunner()
    shown = runner.invoke(cli, ["-p", "bb_executors", "run", "--help"])
    assert shown.exit_code == 0
    assert "--copies INT" in shown.output and "With --executor twice: how often" in shown.output
    assert "--partition STR" in shown.output and "With --executor slurm: sbatch" in shown.output
    cases = [  # the same sentence, each naming the option as its caller writes it
        (["--executor", "twice", "--copies", "0"], {"copies": 0}, "twice",
         "--copies must be at least 1, got 0", "copies must be at least 1, got 0"),
        (["--copies", "3"], {"copies": 3}, "local",
         "--copies is an option of the twice executor: add --executor twice",
         "copies is an option of the twice executor: add executor='twice'"),
        (["--executor", "twise"], {}, "twise",
         "unknown executor 'twise'; did you mean 'twice'?",
         "unknown executor 'twise'; did you mean 'twice'?"),
    ]  # fmt: skip
    for flags, options, executor, sentence, in_python in cases:
        out = ["--out", str(tmp_path)]
        command = runner.invoke(cli, ["-p", "bb_executors", "run", "quick", *flags, *out])
        assert command.exit_code == 2, command.output
        assert command.stderr.startswith(f"benchbench: error: {sentence}"), command.stderr
        with pytest.raises(BenchbenchError) as refused:
            bb.run("quick", executor=executor, executor_options=options, out=tmp_path,
                   plugins=["bb_executors"], progress=False)  # fmt: skip
        assert str(refused.value).startswith(in_python)
    assert not (tmp_path / "benchbench.db").exists()  # refused before anything was stored


def test_a_placement_is_what_every_executor_is_told():
    placement = Placement(workers=3, timeout=60.0, threads=2)
    assert (placement.workers, placement.timeout, placement.threads) == (3, 60.0, 2)
    assert placement.gpus_per_run == 1.0 and placement.data_dir is None
