from pathlib import Path

import pytest

from benchbench import BenchbenchError, Budget
from benchbench.planning.suite import load_suite, parse_suite, plan

GOOD = """
description = "test"
seeds = 2
budget = { steps = 3 }

[[tracks]]
name = "archs"
kind = "arch"
candidates = ["mlp", "cnn"]
tasks = ["digits"]

[[tracks]]
name = "regs"
kind = "regularizer"
candidates = ["none", { name = "label-smoothing", label = "ls-0.3", hparams = { "label-smoothing.alpha" = 0.3 } }]
baseline = "none"
tasks = ["digits", "blobs"]
fixed = { arch = "mlp" }
seeds = 3
budget = { epochs = 1 }
hparams = { lr = 0.01 }
"""


def write(tmp_path, text, name="suite.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_plan_expands_tracks_tasks_candidates_and_seeds(tmp_path, registry):
    suite = load_suite(str(write(tmp_path, GOOD)), registry)
    assert suite.name == "suite" and [t.name for t in suite.tracks] == ["archs", "regs"]
    runs = plan(suite, registry)
    assert len(runs) == 1 * 2 * 2 + 2 * 2 * 3
    archs = [r for r in runs if r.track == "archs"]
    assert {r.spec.budget for r in archs} == {Budget(steps=3)}
    assert [r.baseline for r in archs[:4]] == [True, True, False, False]
    ls = [r for r in runs if r.candidate == "ls-0.3"]
    assert all(r.spec.hparams["label-smoothing.alpha"] == 0.3 for r in ls)
    assert all(r.spec.hparams["lr"] == 0.01 and r.spec.budget == Budget(epochs=1) for r in ls)
    assert sorted({r.seed for r in ls}) == [0, 1, 2]
    assert len(plan(suite, registry, seeds=1)) == 2 + 4


def test_yaml_suites_are_read_too(tmp_path, registry):
    text = "tracks:\n  - name: a\n    kind: arch\n    candidates: [mlp]\n    tasks: [blobs]\n"
    suite = load_suite(str(write(tmp_path, text, "mine.yaml")), registry)
    assert suite.name == "mine" and suite.tracks[0].seeds == 1


def test_built_in_suites_parse_and_plan(registry):
    quick = plan(load_suite("quick", registry), registry)
    assert {r.task for r in quick} == {"digits", "mnist1d"}
    assert {r.spec.arch for r in quick} == {"mlp", "cnn"}
    default = plan(load_suite("default", registry), registry)
    assert {r.task for r in default} == {
        "digits",
        "mnist1d",
        "digits-semi",
        "mnist1d-semi",
        "digits-transfer",
        "mnist1d-transfer",
        "mnist1d-shift",
    }
    situations = [f"finetune-{n}-{d}" for n in ("few", "many") for d in ("similar", "different")]
    assert {r.track for r in default} == {
        "architectures",
        "regularizers",
        "optimizers",
        "ssl",
        *situations,
        "domain-shift",
    }
    optimizers = {e.name for e in registry if e.kind == "optimizer" and e.origin.distribution}
    assert {r.candidate for r in default if r.track == "optimizers"} == optimizers
    assert len(optimizers) == 9 and {r.spec.arch for r in default if r.track == "optimizers"} == {
        "cnn"
    }
    strategies = {e.name for e in registry if e.kind == "finetune" and e.origin.distribution}
    archs = {e.name for e in registry if e.kind == "arch" and e.origin.distribution}
    assert len(strategies) == 7 and len(archs) == 7
    for track in situations:
        assert {r.spec.finetune for r in default if r.track == track} == strategies
    assert {r.spec.arch for r in default if r.track == "architectures"} == archs
    # airbench's network takes images: planned on digits, skipped on mnist1d's signals
    assert {r.task for r in default if r.spec.arch == "airbench"} == {"digits"}
    few_different = next(r for r in default if r.track == "finetune-few-different")
    assert few_different.spec.hparams[f"{few_different.task}.domain"] == "different"
    assert {r.seed for r in default} == {0, 1, 2}
    regularizers = {r.candidate for r in default if r.track == "regularizers"}
    built_in = {e.name for e in registry if e.kind == "regularizer" and e.origin.distribution}
    assert len(built_in) == 10 and built_in <= regularizers
    ssl_runs = [r for r in default if r.track == "ssl"]
    methods = {r.spec.ssl for r in ssl_runs}
    built_in = {e.name for e in registry if e.kind == "ssl" and e.origin.distribution}
    assert len(built_in) == 8 and built_in == methods
    variants = {
        r.spec.hparams["autoencoder.variant"] for r in ssl_runs if r.spec.ssl == "autoencoder"
    }
    assert variants == {"undercomplete", "sparse", "denoising", "contractive", "deep"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("tracks = [", "malformed TOML"),
        ("seeds = 2", "needs at least one"),
        ("colour = 1\n[[tracks]]\nname='a'", r"unknown key\(s\) \['colour'\]"),
        (
            "[[tracks]]\nname = 'a'\nkind = 'arch'\ncandidates = [{ name = 'mlp', lable = 'x' }]\ntasks = ['digits']",
            r"unknown key\(s\) \['lable'\] \(a candidate has: hparams, label, name\)",
        ),
        ("[[tracks]]\nname = 'a'\nkind = 'arch'\ncandidates = ['mlp']", "missing 'tasks'"),
        (
            "[[tracks]]\nname = 'a'\nkind = 'optimiser'\ncandidates = ['mlp']\ntasks = ['digits']",
            "must be one of arch",
        ),
        (
            "[[tracks]]\nname = 'a'\nkind = 'arch'\ncandidates = ['mlp']\ntasks = ['digits']\nbaseline = 'cnn'",
            "'cnn' is not one of the candidates",
        ),
        (
            "[[tracks]]\nname = 'a'\nkind = 'regularizer'\ncandidates = ['none']\ntasks = ['digits']",
            "must name the arch",
        ),
        (
            "[[tracks]]\nname = 'a'\nkind = 'arch'\ncandidates = ['mlp']\ntasks = ['digits']\nseeds = 0",
            "whole number >= 1",
        ),
        (
            "[[tracks]]\nname = 'a'\nkind = 'arch'\ncandidates = ['mlp']\ntasks = ['digits']\nbudget = { epoch = 1 }",
            "unknown budget key",
        ),
    ],
)
def test_malformed_suites_fail_with_the_file_and_the_problem(tmp_path, registry, text, message):
    path = write(tmp_path, text)
    with pytest.raises(BenchbenchError, match=message) as info:
        load_suite(str(path), registry)
    assert str(path) in str(info.value)


def test_unknown_names_fail_at_planning_time(tmp_path, registry):
    text = (
        "[[tracks]]\nname = 'a'\nkind = 'arch'\ncandidates = ['mlp', 'resnet']\ntasks = ['digits']"
    )
    suite = load_suite(str(write(tmp_path, text)), registry)
    with pytest.raises(BenchbenchError, match="track a: unknown arch 'resnet'"):
        plan(suite, registry)


def test_yaml_is_loaded_safely(tmp_path, registry):
    path = write(tmp_path, "!!python/object/apply:os.system ['echo pwned']\n", "evil.yaml")
    with pytest.raises(BenchbenchError, match="malformed YAML"):
        load_suite(str(path), registry)


def test_unknown_suite_names_are_suggested(registry):
    with pytest.raises(BenchbenchError, match="did you mean 'quick'"):
        load_suite("quik", registry)
    with pytest.raises(BenchbenchError, match="does not exist"):
        load_suite("missing.toml", registry)


def test_parse_rejects_duplicate_tracks():
    track = {"name": "a", "kind": "arch", "candidates": ["mlp"], "tasks": ["t"]}
    with pytest.raises(BenchbenchError, match="track names must be unique"):
        parse_suite({"tracks": [track, track]}, "x")


def test_task_hyperparameters_of_a_track_reach_that_task_only(registry, tmp_path):
    text = """
[[tracks]]
name = "transfer"
kind = "finetune"
candidates = ["full"]
tasks = ["digits-transfer", "mnist1d-transfer"]
fixed = { arch = "cnn" }
hparams = { "digits-transfer.domain" = "different", "mnist1d-transfer.labels_per_class" = 0 }
"""
    path = tmp_path / "s.toml"
    path.write_text(text)
    runs = {r.task: r.spec.hparams for r in plan(load_suite(str(path), registry), registry)}
    assert runs["digits-transfer"]["digits-transfer.domain"] == "different"
    assert runs["digits-transfer"]["digits-transfer.labels_per_class"] == 10
    assert runs["mnist1d-transfer"]["mnist1d-transfer.labels_per_class"] == 0
    assert runs["mnist1d-transfer"]["mnist1d-transfer.domain"] == "similar"
    path.write_text(text.replace('"digits-transfer", ', ""))
    with pytest.raises(BenchbenchError, match="'digits-transfer', which the track does not run"):
        plan(load_suite(str(path), registry), registry)


def test_example_suites_parse_and_plan(registry):
    examples = sorted((Path(__file__).parents[2] / "examples").glob("*.toml"))
    assert examples
    for path in examples:
        suite = load_suite(str(path), registry)
        assert plan(suite, registry)
    tuned = load_suite(str(examples[0]), registry)
    assert tuned.tracks[0].tuning.trials == 12 and tuned.tracks[0].tuning.pruner == "median"
