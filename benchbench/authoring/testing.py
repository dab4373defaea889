"""pytest plugin for plugin authors: benchbench's conformance checks as tests, and fixtures.

Installed with benchbench (entry point ``pytest11``), so any test suite can use it. Name the
plugin under test in the pytest configuration::

    [tool.pytest.ini_options]
    benchbench_plugin = "my-plugin"      # its distribution, or a -p module's name

(or ``pytest --benchbench-plugin NAME``), then::

    def test_conformance(benchbench_check):   # one test per component and check
        benchbench_check()

    def test_it_learns(benchbench_run):
        result = benchbench_run("regularizer", "my-regularizer", steps=60)
        assert result.status == "ok" and result.test_accuracy > 0.5

An executor's tests get an in-process fake cluster (``benchbench_cluster``), what an
executor is told (``benchbench_placement``), probe jobs (``benchbench_jobs(n)``) and
:func:`drain` (everything an executor hands back).

The checks are those of ``benchbench plugin check`` (:mod:`benchbench.authoring.conformance`). This
module imports nothing heavy until a test asks for one of its fixtures, so it costs other
test suites nothing.
"""

from __future__ import annotations

from typing import Any

import pytest

INI = "benchbench_plugin"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("benchbench")
    group.addoption(
        "--benchbench-plugin",
        dest="benchbench_plugin",
        metavar="NAME",
        help="the benchbench plugin under test: a distribution, or a -p module's name",
    )
    parser.addini(INI, "the benchbench plugin under test (distribution or -p module)")


def _target(config: pytest.Config) -> str:
    target = config.getoption("benchbench_plugin") or config.getini(INI)
    if not target:
        raise pytest.UsageError(
            f"benchbench: name the plugin under test: '{INI} = \"my-plugin\"' under "
            "[tool.pytest.ini_options], or --benchbench-plugin NAME"
        )
    return str(target)


def _manager(config: pytest.Config) -> Any:
    """One plugin manager per test session: the installed plugins (or the -p module under
    test, when it is not installed) plus the probe task and network."""
    cached = getattr(config, "_benchbench_pm", None)
    if cached is None:
        from benchbench.authoring.conformance import probe_manager

        target = _target(config)
        modules = () if _installed(target) else (target,)
        cached = config._benchbench_pm = probe_manager(modules)  # type: ignore[attr-defined]
    return cached


def _installed(target: str) -> bool:
    import importlib.metadata

    from benchbench.plugins.config import ENTRY_POINT_GROUP

    names = {target.replace("_", "-").lower()}
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = getattr(ep, "dist", None)
        if ep.name == target or (dist and dist.name.replace("_", "-").lower() in names):
            return True
    return False


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize ``benchbench_check`` over every check of every component of the plugin."""
    if "benchbench_check" not in metafunc.fixturenames:
        return
    from benchbench.authoring.conformance import checks_for

    checks = checks_for(_manager(metafunc.config), _target(metafunc.config))
    metafunc.parametrize(
        "benchbench_check", [_as_test(c) for c in checks], ids=[c.id for c in checks]
    )


def _as_test(check: Any) -> Any:
    from benchbench.authoring.conformance import CheckSkipped

    def run() -> None:
        try:
            check()
        except CheckSkipped as exc:
            pytest.skip(str(exc))

    run.id = check.id  # type: ignore[attr-defined]
    return run


@pytest.fixture
def benchbench_pm(request: pytest.FixtureRequest) -> Any:
    """The plugin manager with the plugin under test and the probe task and network."""
    return _manager(request.config)


@pytest.fixture
def benchbench_run(benchbench_pm: Any) -> Any:
    """Run one component for a few steps and return its :class:`~benchbench.RunResult`.

    ``benchbench_run(kind, name, task=None, steps=12, seed=0, hparams=None, **components)``:
    on ``task`` (default: the probe task of the first input kind the component accepts), with
    the probe network unless ``arch=`` names another (or the component is one)."""
    from benchbench.authoring.conformance import PROBE_STEPS, Subject
    from benchbench.budget import Budget
    from benchbench.execution.execute import execute
    from benchbench.host import numerics
    from benchbench.planning.resolve import resolve_spec

    def run(
        kind: str,
        name: str,
        task: str | None = None,
        steps: int = PROBE_STEPS,
        seed: int = 0,
        hparams: dict[str, Any] | None = None,
        **components: str,
    ) -> Any:
        names = {**Subject(benchbench_pm, kind, name, task).names(), **components}
        numerics.select(numerics.honoured())  # trains in this process, torch already loaded
        spec = resolve_spec(
            benchbench_pm.registry,
            **names,
            seed=seed,
            budget=Budget(steps=steps, eval_every=0.5),
            hparams=hparams,
        )
        return execute(spec, benchbench_pm)

    return run


@pytest.fixture
def benchbench_cluster() -> Any:
    """An in-process fake cluster (:class:`~benchbench.authoring.fake_cluster.FakeCluster`)
    for an executor's tests: hand it to the executor in place of its cluster's client;
    ``lose(n)`` loses the next jobs, its counts say what was submitted, ran and cancelled."""
    from benchbench.authoring.fake_cluster import FakeCluster

    return FakeCluster()


@pytest.fixture
def benchbench_placement(benchbench_pm: Any, tmp_path: Any) -> Any:
    """What an executor under test is told (:class:`~benchbench.executors.Placement`): the
    plugins with the probes, files under a temporary folder, two runs at once, one thread
    each, a time limit of two minutes per run."""
    from benchbench.executors.base import Placement

    return Placement(benchbench_pm.config, None, tmp_path, 2, 120.0, 1)


@pytest.fixture
def benchbench_jobs(benchbench_pm: Any) -> Any:
    """``benchbench_jobs(n)``: ``n`` jobs of short probe runs (seeds 0 to n-1) for an
    executor under test, each training in well under a second to well above chance (four
    classes: 0.25)."""
    from benchbench.authoring.executor_checks import probe_spec
    from benchbench.executors.base import Job

    def jobs(count: int) -> list[Any]:
        return [Job(probe_spec(benchbench_pm, seed)) for seed in range(count)]

    return jobs


def drain(executor: Any, seconds: float = 120.0) -> list[Any]:
    """Everything ``executor`` hands back until it is not busy: ``(job, result)`` pairs;
    fails the test when that takes more than ``seconds``."""
    import time

    finished: list[Any] = []
    deadline = time.monotonic() + seconds
    while executor.busy:
        if time.monotonic() > deadline:
            pytest.fail(f"{executor.busy} jobs did not come back within {seconds:.0f} s")
        finished += executor.wait(1.0)
    return finished
