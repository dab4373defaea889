"""Property: a suite file, however malformed, loads (and plans) or fails with the project's
own error type — never another exception, never a traceback for the user."""

import copy

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchbench import BenchbenchError
from benchbench.planning.suite import load_suite, plan
from benchbench.plugins import PluginConfig, get_plugin_manager

REGISTRY = get_plugin_manager(PluginConfig(modules=("bb_test_plugin",))).registry
VALID = {
    "description": "fuzzed",
    "seeds": 2,
    "budget": {"steps": 3},
    "tuning": {"trials": 2, "budget": {"steps": 2}},
    "tracks": [
        {
            "name": "regs",
            "kind": "regularizer",
            "candidates": [
                "none",
                {
                    "name": "label-smoothing",
                    "label": "ls",
                    "hparams": {"label-smoothing.alpha": 0.2},
                },
            ],
            "baseline": "none",
            "tasks": ["blobs", "mnist"],
            "fixed": {"arch": "mlp"},
            "hparams": {"lr": 0.01, "mnist.foo": 1},
            "seeds": 1,
            "budget": {"epochs": 1, "eval_every": 0.5},
            "tuning": {"sampler": "random"},
        }
    ],
}
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["none", "mlp", "blobs", "arch", "regularizer", "steps", "epochs", "lr"]),
)
junk = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.text(max_size=8), st.integers()), inner, max_size=4),
    ),
    max_leaves=12,
)


def paths(value, prefix=()):
    """Every place in the suite a value sits, as a path of keys and indices."""
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from paths(item, (*prefix, index))


PATHS = list(paths(VALID))


def loads_or_fails_cleanly(path):
    try:
        suite = load_suite(str(path), REGISTRY)
        plan(suite, REGISTRY)
    except BenchbenchError:
        pass


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    mutations=st.lists(
        st.tuples(st.sampled_from(PATHS), junk, st.booleans()), min_size=1, max_size=3
    )
)
def test_mutated_suites_load_or_fail_with_benchbench_errors(tmp_path_factory, mutations):
    suite = copy.deepcopy(VALID)
    for path, value, delete in mutations:
        parent, key = suite, None
        try:
            for step in path[:-1]:
                parent = parent[step]
            key = path[-1] if path else None
        except (KeyError, IndexError, TypeError):
            continue
        if key is None:
            suite = value
        elif delete and isinstance(parent, dict):
            parent.pop(key, None)
        elif isinstance(parent, dict):
            parent[key] = value
        elif isinstance(parent, list) and isinstance(key, int) and key < len(parent):
            parent[key] = value
    folder = tmp_path_factory.mktemp("suites")
    file = folder / "fuzzed.yaml"
    try:
        file.write_text(yaml.safe_dump(suite))
    except (yaml.YAMLError, UnicodeEncodeError):  # e.g. lone surrogates cannot be written
        return
    loads_or_fails_cleanly(file)


@settings(max_examples=200, deadline=None)
@given(
    content=st.one_of(st.binary(max_size=200), st.text(max_size=200)),
    suffix=st.sampled_from([".toml", ".yaml"]),
)
def test_arbitrary_bytes_load_or_fail_with_benchbench_errors(tmp_path_factory, content, suffix):
    file = tmp_path_factory.mktemp("raw") / f"raw{suffix}"
    if isinstance(content, str):
        try:
            file.write_text(content, encoding="utf-8")
        except UnicodeEncodeError:
            return
    else:
        file.write_bytes(content)
    loads_or_fails_cleanly(file)


def test_the_cases_the_issue_found(tmp_path):
    """Each of these once raised a traceback (or was silently accepted)."""
    cases = {
        "fixed = {arch = 7}": "[[tracks]]\nname='a'\nkind='regularizer'\ncandidates=['none']\ntasks=['blobs']\nfixed = {arch = 7}\n",
        "kind as a list": "[[tracks]]\nname='a'\nkind=['regularizer']\ncandidates=['none']\ntasks=['blobs']\n",
        "bool and fractional budget": "budget = {epochs = true, steps = 2.5}\n[[tracks]]\nname='a'\nkind='arch'\ncandidates=['mlp']\ntasks=['blobs']\n",
        "trials = true": "[tuning]\ntrials = true\n[[tracks]]\nname='a'\nkind='arch'\ncandidates=['mlp']\ntasks=['blobs']\n",
        "non-numeric key in YAML": None,
    }
    for what, text in cases.items():
        path = tmp_path / "case.toml"
        if text is None:
            path = tmp_path / "case.yaml"
            path.write_text("1: 2\ntracks: []\n")
        else:
            path.write_text(text)
        try:
            plan(load_suite(str(path), REGISTRY), REGISTRY)
        except BenchbenchError:
            continue
        raise AssertionError(f"{what}: accepted")
    latin = tmp_path / "latin.toml"
    latin.write_bytes("description = 'caf\xe9'\n".encode("latin-1"))
    try:
        load_suite(str(latin), REGISTRY)
    except BenchbenchError as exc:
        assert "not UTF-8 text" in str(exc)
    else:
        raise AssertionError("latin-1 accepted")
