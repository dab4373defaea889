"""Publishing a plugin: the contract enforced at registration, task data checked at load,
global RNGs seeded, observers isolated, the conformance checks each failing on a component
that breaks them, and the scaffold."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

import benchbench
from benchbench import SSL, Architecture, Budget, Regularizer, Split, Splits, Task
from benchbench.authoring.conformance import CheckFailed, checks_for, probe_manager
from benchbench.errors import BenchbenchError
from benchbench.execution.execute import execute
from benchbench.planning.resolve import resolve_spec
from benchbench.plugins import (
    Origin,
    PluginConfig,
    Registry,
    get_plugin_manager,
    hook_problems,
)

# -- the contract at registration ----------------------------------------------------------------


def _register(*classes):
    registry = Registry()
    registry._origin = Origin("mine", "my-dist", "0.1")
    for cls in classes:
        registry.add(cls)
    return registry


def _refusal(cls) -> str:
    with pytest.raises(ValueError) as info:
        _register(cls)
    return str(info.value)


class _Blobs(Task):
    name, summary = "tiny", "two blobs (tests only)"
    num_classes, input_shape, modality = 2, (4,), "tabular"
    target_accuracy, budget = 0.9, Budget(steps=4)

    def load(self, data_dir):
        g = torch.Generator().manual_seed(0)
        y = torch.arange(60) % 2
        x = torch.randn(60, 4, generator=g) + 3 * y[:, None]
        return Splits(Split(x[:30], y[:30]), Split(x[30:45], y[30:45]), Split(x[45:], y[45:]))


def test_a_missing_method_is_named_at_registration():
    class NoBuild(Architecture):
        name, summary = "no-build", "forgot build (tests only)"

    class NoLoad(Task):
        name, summary = "no-load", "forgot load (tests only)"
        num_classes, input_shape, modality = 2, (4,), "tabular"
        target_accuracy, budget = 0.9, Budget(steps=4)

    assert "no-build': " in _refusal(NoBuild)
    assert "NoBuild does not implement build(), which every arch must" in _refusal(NoBuild)
    assert "NoLoad does not implement load(), which every task must" in _refusal(NoLoad)


def test_a_task_missing_or_mis_declaring_attributes_is_named():
    class NoShape(_Blobs):
        name = "no-shape"

    del_attrs = {"input_shape": None, "budget": None}
    for attr in del_attrs:
        broken = type(
            "Broken",
            (Task,),
            {
                k: getattr(_Blobs, k)
                for k in (
                    "name",
                    "summary",
                    "num_classes",
                    "input_shape",
                    "modality",
                    "target_accuracy",
                    "budget",
                    "load",
                )
                if k != attr
            },
        )
        assert f"does not declare {attr}, which every task must" in _refusal(broken)
    NoShape.input_shape = (1, 8)  # a sequence's rank declared as tabular
    assert "input_shape (1, 8) does not fit modality 'tabular'" in _refusal(NoShape)
    NoShape.input_shape, NoShape.num_classes = (4,), 1
    assert "num_classes must be at least 2" in _refusal(NoShape)


def test_a_misspelled_method_and_a_method_that_does_nothing_are_refused():
    class Los(Regularizer):
        name, summary = "los", "overrides los (tests only)"

        def los(self, logits, targets):
            return logits.sum()

    class Idle(SSL):
        name, summary = "idle", "overrides neither loss (tests only)"

    assert (
        "Los.los() is not a method of Regularizer and would never be called: did you mean loss()?"
        in _refusal(Los)
    )
    assert "Idle overrides none of unlabeled_loss(), pretrain_loss()" in _refusal(Idle)


def test_names_are_unique_across_kinds_and_the_error_says_how_to_block_one():
    pm = get_plugin_manager(PluginConfig())
    registry = pm.registry

    class Cnn(Regularizer):
        name, summary = "cnn", "clashes with an arch (tests only)"

        def transform(self, x, targets, generator):
            return x, targets

    registry._origin = Origin("thirdparty", "third-dist", "0.1")
    with pytest.raises(ValueError) as info:
        registry.add(Cnn)
    message = str(info.value)
    assert "regularizer 'cnn' has the name of arch 'cnn'" in message
    assert "benchbench" in message and "third-dist 0.1 (thirdparty)" in message
    assert "rename one or block one with -p no:archs or -p no:thirdparty" in message


class _HalfPlugin:
    """Registers one component, then fails: none of it may stay."""

    @benchbench.hookimpl
    def benchbench_register_components(self, registry):
        registry.add(_Blobs)
        raise RuntimeError("second half broke")


def test_registration_is_all_or_nothing():
    pm = get_plugin_manager(PluginConfig(autoload=False))
    pm._register_plugin(_HalfPlugin(), Origin("half", "half-dist", "1.0"))
    assert "tiny" not in pm.registry.entries["task"]
    assert pm.errors == [("half", "RuntimeError: second half broke (half-dist 1.0 (half))")]
    assert pm.get_plugin("half") is None


def test_hooks_that_would_never_be_called_are_reported():
    class Unmarked:
        def benchbench_register_components(self, registry):
            pass

    class Typo:
        @benchbench.hookimpl
        def benchbech_register_components(self, registry):
            pass

    class Unknown:
        @benchbench.hookimpl
        def benchbench_register_component(self, registry):
            pass

    assert hook_problems(Unmarked()) == (
        "benchbench_register_components is not marked @benchbench.hookimpl, so it would "
        "never be called"
    )
    assert hook_problems(Typo()) == (
        "benchbech_register_components is not a benchbench hook: did you mean "
        "benchbench_register_components?"
    )
    assert hook_problems(Unknown()).endswith("did you mean benchbench_register_components?")
    assert hook_problems(_HalfPlugin()) is None


# -- task data ------------------------------------------------------------------------------------


def _data_plugin(load):
    class Bad(_Blobs):
        name = "bad-data"
        input_shape = (8,)
        num_classes = 10

    Bad.load = load

    class Plugin:
        @benchbench.hookimpl
        def benchbench_register_components(self, registry):
            registry.add(Bad)

    pm = get_plugin_manager(PluginConfig())
    pm._register_plugin(Plugin(), Origin("bad", "bad-dist", "0.1"))
    return pm


def _splits(x, y):
    return Splits(Split(x, y), Split(x, y), Split(x, y))


_Y = torch.arange(30) % 10
_X = torch.randn(30, 8)


@pytest.mark.parametrize(
    ("x", "y", "problem"),
    [
        (_X.double(), _Y, "train inputs are torch.float64, not torch.float32"),
        (_X, _Y.int(), "train labels are torch.int32, not torch.int64"),
        (_X, _Y.float(), "train labels are torch.float32, not torch.int64"),
        (_X, _Y + 1, "train labels run from 1 to 10, outside 0..9 (num_classes = 10)"),
        (_X.numpy(), _Y, "train inputs are ndarray, not a torch.Tensor"),
        (_X[:, :6], _Y, "examples of (6,), but the task declares input_shape (8,)"),
        (_X[:, None, :], _Y, "examples of (1, 8), but the task declares input_shape (8,)"),
        (_X, _Y % 2, "the labels use only 2 of the 10 classes num_classes declares"),
        (
            torch.where(_Y[:, None] == 3, float("nan"), _X),
            _Y,
            "train inputs: 3 example(s) hold NaN",
        ),
    ],
)
def test_task_data_breaking_its_declaration_fails_the_run_blamed_on_the_task(x, y, problem):
    pm = _data_plugin(lambda self, data_dir: _splits(x, y))
    spec = resolve_spec(pm.registry, task="bad-data", arch="mlp", budget=Budget(steps=2))
    result = execute(spec, pm)
    assert result.status == "failed"
    assert result.error_component == "task bad-data"
    assert result.error.startswith("task 'bad-data' loaded data that breaks its declaration: ")
    assert problem in result.error


def test_a_suite_skips_pairs_whose_inputs_a_component_refuses_with_one_line(tmp_path, pm):
    from benchbench.planning.suite import load_suite, plan

    path = tmp_path / "mixed.toml"
    path.write_text(
        textwrap.dedent("""
        seeds = 2
        [[tracks]]
        name = "archs"
        kind = "arch"
        tasks = ["blobs", "digits"]
        budget = { steps = 2 }
        candidates = ["mlp", "cnn"]
    """)
    )
    with pytest.warns(benchbench.errors.BenchbenchWarning) as caught:
        runs = plan(load_suite(str(path), pm.registry), pm.registry)
    assert [(r.task, r.candidate) for r in runs[::2]] == [
        ("blobs", "mlp"),
        ("digits", "mlp"),
        ("digits", "cnn"),
    ]
    assert [str(w.message) for w in caught] == [
        "suite mixed, track archs: skipped cnn on blobs: arch 'cnn' accepts image, sequence "
        "inputs and task 'blobs' is tabular"
    ]
    with pytest.raises(BenchbenchError, match="arch 'cnn' accepts image, sequence inputs"):
        resolve_spec(pm.registry, task="blobs", arch="cnn")


# -- randomness and observers ---------------------------------------------------------------------


def test_global_rngs_are_seeded_per_run_and_their_use_is_recorded():
    pm = probe_manager(("bb_nonconforming",))
    spec = resolve_spec(
        pm.registry,
        task="probe-image",
        arch="probe-net",
        regularizer="nc-numpy-random",
        budget=Budget(steps=6),
    )
    np.random.seed(1)
    random.seed(1)
    numpy_before, python_before = np.random.get_state()[1].copy(), random.getstate()
    first, second = execute(spec, pm), execute(spec, pm)
    assert first.status == second.status == "ok"
    assert first.test_accuracy == second.test_accuracy  # repeats despite np.random
    assert [p["val_accuracy"] for p in first.curve] == [p["val_accuracy"] for p in second.curve]
    assert first.provenance["global_rngs_drawn"] == ["numpy"]
    assert (np.random.get_state()[1] == numpy_before).all() and random.getstate() == python_before
    conforming = resolve_spec(
        pm.registry,
        task="probe-image",
        arch="probe-net",
        regularizer="nc-conforming",
        budget=Budget(steps=6),
    )
    assert "global_rngs_drawn" not in execute(conforming, pm).provenance


class _Observer:
    def __init__(self):
        self.finished = 0

    @benchbench.hookimpl
    def benchbench_eval_point(self, spec, point):
        raise KeyError("dashboard down")

    @benchbench.hookimpl
    def benchbench_run_finished(self, spec, result):
        self.finished += 1
        raise ConnectionError("tracker unreachable")


def test_an_observer_that_raises_is_a_warning_naming_it_never_a_failed_run():
    pm = probe_manager()
    observer = _Observer()
    pm._register_plugin(observer, Origin("tracker", "tracker-dist", "2.0"))
    spec = resolve_spec(pm.registry, task="probe-tabular", arch="probe-net", budget=Budget(steps=6))
    with pytest.warns(benchbench.errors.BenchbenchWarning) as caught:
        result = execute(spec, pm)
    assert result.status == "ok" and result.curve and observer.finished == 1
    messages = {str(w.message) for w in caught}
    assert (
        "plugin 'tracker': its benchbench_eval_point raised KeyError: 'dashboard down' (ignored)"
        in messages
    )
    assert (
        "plugin 'tracker': its benchbench_run_finished raised ConnectionError: tracker "
        "unreachable (ignored)" in messages
    )


def test_same_bare_name_in_two_search_spaces_no_longer_collides():
    import optuna

    from benchbench.tuning.space import Namespaced

    study = optuna.create_study()
    trial = study.ask()
    a = Namespaced(trial, "arch-a").suggest_int("width", 1, 8)
    b = Namespaced(trial, "reg-b").suggest_float("width", 0.1, 0.9)
    c = Namespaced(trial, "reg-b").suggest_float("reg-b.rate", 0.1, 0.9)
    assert sorted(trial.params) == ["arch-a.width", "reg-b.rate", "reg-b.width"]
    assert trial.params["arch-a.width"] == a and trial.params["reg-b.width"] == b
    assert 0.1 <= c <= 0.9


# -- conformance checks ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def checks():
    threads = torch.get_num_threads()
    pm = probe_manager(("bb_nonconforming",))
    yield {c.id: c for c in checks_for(pm, "bb_nonconforming")}
    torch.set_num_threads(threads)


@pytest.mark.parametrize(
    ("check", "message"),
    [
        (
            "regularizer:nc-same-summary:contract",
            "its summary is word for word that of regularizer 'none'",
        ),
        (
            "regularizer:nc-unknown-key:hyperparameters",
            "search_space suggests ['scael'], which are not hyperparameters",
        ),
        (
            "regularizer:nc-out-of-range:hyperparameters",
            "search_space suggested a value its declaration refuses: hyperparameter "
            "nc-out-of-range.scale=",
        ),
        ("regularizer:nc-nan-loss:short-run", "ended diverged"),
        ("regularizer:nc-drifting:same-seed", "two runs with seed 0 gave different accuracies"),
        ("regularizer:nc-numpy-random:global-state", "drew from the global numpy RNG"),
        ("regularizer:nc-python-random:global-state", "drew from the global random RNG"),
        ("regularizer:nc-torch-random:global-state", "drew from the global torch RNG"),
        ("regularizer:nc-threads:global-state", "its run changed process-wide state: thread count"),
        ("task:nc-float64:task-data", "train inputs are torch.float64, not torch.float32"),
        ("task:nc-float64:short-run", "train inputs are torch.float64"),
        (
            "optimizer:nc-hidden-state:optimizer-state",
            "a copy loaded from its state_dict() took the next step differently",
        ),
        (
            "optimizer:nc-stands-still:optimizer-state",
            "three steps left every weight of the probe network as it was",
        ),
    ],
)
def test_each_check_fails_on_a_component_that_breaks_it(checks, check, message):
    with pytest.raises(CheckFailed) as info:
        checks[check]()
    assert message in str(info.value)


def test_a_conforming_component_passes_every_check(checks):
    passed = [c for i, c in checks.items() if i.startswith("regularizer:nc-conforming:")]
    assert [c.check for c in passed] == [
        "contract",
        "hyperparameters",
        "short-run",
        "same-seed",
        "global-state",
    ]
    for check in passed:
        check()


@pytest.mark.e2e  # a flow across several commands, each with its worker processes: with the end-to-end ones
def test_plugin_check_command_prints_a_table_and_fails(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "benchbench", "plugin", "check", "-p", "bb_nonconforming"],
        capture_output=True,
        text=True,
        cwd=Path(__file__).parents[1],
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert out.returncode == 1, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].split() == ["component", "check", "result", "detail"]
    assert any(
        line.split()[:4] == ["regularizer", "nc-conforming", "contract", "pass"] for line in lines
    )
    assert any(
        line.split()[:4] == ["regularizer", "nc-nan-loss", "short-run", "FAIL"] for line in lines
    )
    assert (
        "53 passed, 15 failed, 0 skipped: 68 checks of 13 component(s) from bb_nonconforming"
        in out.stdout
    )


# -- -p, the scaffold -----------------------------------------------------------------------------


@pytest.mark.e2e  # a flow across several commands, each with its worker processes: with the end-to-end ones
def test_p_imports_from_the_current_folder_and_accepts_an_installed_module(tmp_path):
    (tmp_path / "my_local_plugin.py").write_text(
        textwrap.dedent("""
        import benchbench

        class Shift(benchbench.Regularizer):
            name, summary = "local-shift", "adds 0.1 to inputs (tests only)"

            def transform(self, x, targets, generator):
                return x + 0.1, targets

        @benchbench.hookimpl
        def benchbench_register_components(registry):
            registry.add(Shift)
    """)
    )
    script = Path(sys.executable).with_name("benchbench")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    listed = subprocess.run(
        [str(script), "-p", "my_local_plugin", "list", "--kind", "regularizer"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
    )
    assert listed.returncode == 0, listed.stderr
    assert "local-shift" in listed.stdout
    installed = subprocess.run(
        [str(script), "-p", "benchbench_archs", "list", "--kind", "arch"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
    )
    assert installed.returncode == 0, installed.stderr
    assert "mlp" in installed.stdout and "already registered" not in installed.stderr


def test_scaffold_writes_a_package_and_refuses_bad_names(tmp_path):
    from benchbench.authoring.scaffold import new_plugin

    folder = new_plugin("input-noise", kind="regularizer", to=tmp_path)
    assert sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()) == [
        "README.md",
        "pyproject.toml",
        "src/benchbench_input_noise/__init__.py",
        "tests/test_plugin.py",
    ]
    pyproject = (folder / "pyproject.toml").read_text()
    assert 'benchbench_input_noise = "benchbench_input_noise"' in pyproject
    assert 'benchbench_plugin = "benchbench-input-noise"' in pyproject
    source = (folder / "src/benchbench_input_noise/__init__.py").read_text()
    assert "class InputNoise(Regularizer):" in source and 'name = "input-noise"' in source
    compile(source, "plugin", "exec")
    with pytest.raises(BenchbenchError, match="already exists"):
        new_plugin("input-noise", kind="regularizer", to=tmp_path)
    with pytest.raises(BenchbenchError, match="must be kebab-case"):
        new_plugin("Input_Noise", kind="regularizer", to=tmp_path)


@pytest.mark.parametrize(
    ("name", "cls"), [("none", "NoneArchitecture"), ("true", "TrueArchitecture")]
)
def test_a_name_that_is_a_python_keyword_gets_a_class_that_compiles(tmp_path, name, cls):
    from benchbench.authoring.scaffold import module_name, new_plugin

    folder = new_plugin(name, kind="arch", to=tmp_path)
    source = (folder / "src" / module_name(name) / "__init__.py").read_text()
    assert f"class {cls}(Architecture):" in source
    compile(source, "plugin", "exec")


def test_scaffold_refuses_a_taken_name_and_an_overlong_one_in_one_line(tmp_path):
    from benchbench.authoring.scaffold import new_plugin

    with pytest.raises(BenchbenchError, match="regularizer 'mixup' already exists"):
        new_plugin("mixup", kind="regularizer", to=tmp_path)
    with pytest.raises(BenchbenchError, match="at most 60 characters") as info:
        new_plugin("a" * 300, kind="regularizer", to=tmp_path)
    assert len(str(info.value)) < 300
    assert not list(tmp_path.iterdir())


def test_a_component_that_hangs_fails_its_check_in_time_and_names_itself():
    """Each check runs in a worker within its time limit; the component's other training
    checks are not waited for again."""
    import benchbench as bb

    outcomes = bb.check_plugin(module="bb_hanging", timeout=4, progress=False)
    by_check = {o.check: o for o in outcomes}
    assert by_check["contract"].result == "pass"
    assert by_check["short-run"].result == "FAIL"
    assert "did not finish in 4 s: arch 'hang-build' hangs" in by_check["short-run"].detail
    assert by_check["same-seed"].detail == "not run: its short run hung"
    assert by_check["global-state"].result == "FAIL"
