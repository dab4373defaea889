import math

import pytest

from benchbench import Budget
from benchbench.execution.execute import execute
from benchbench.planning.resolve import resolve_spec
from benchbench.training.settings import lr_factor


def run(pm, data_dir, task="blobs", arch="mlp", **kwargs):
    spec = resolve_spec(pm.registry, task=task, arch=arch, **kwargs)
    return execute(spec, pm, data_dir)


def test_steps_budget_stops_exactly(pm, data_dir):
    result = run(pm, data_dir, budget=Budget(steps=7))
    assert result.status == "ok"
    assert result.steps == 7 and result.samples_seen == 7 * 32


def test_epochs_budget_stops_exactly(pm, data_dir):
    # blobs: 256 training examples, batch 32 -> 8 steps per epoch
    result = run(pm, data_dir, budget=Budget(epochs=2.5))
    assert result.steps == 20 and result.epochs == pytest.approx(2.5)


def test_whichever_limit_comes_first_ends_the_run(pm, data_dir):
    assert run(pm, data_dir, budget=Budget(epochs=100, steps=5)).steps == 5
    result = run(pm, data_dir, budget=Budget(steps=10**9, seconds=0.5))
    assert 0.5 <= result.train_seconds < 0.5 + 0.25
    assert 0 < result.steps < 10**9


def test_eval_points_follow_the_schedule_and_pause_the_clock(pm, data_dir):
    result = run(pm, data_dir, budget=Budget(epochs=2, eval_every=0.5))
    assert [p["step"] for p in result.curve] == [4, 8, 12, 16]
    assert [p["epoch"] for p in result.curve] == [0.5, 1.0, 1.5, 2.0]
    seconds = [p["train_seconds"] for p in result.curve]
    assert seconds == sorted(seconds) and seconds[-1] == pytest.approx(result.train_seconds)
    assert result.best_val_accuracy == max(p["val_accuracy"] for p in result.curve)
    assert result.eval_seconds > 0


def test_time_to_target_is_the_first_eval_point_reaching_it(pm, data_dir, monkeypatch):
    blobs = pm.registry.get("task", "blobs")
    monkeypatch.setattr(blobs, "target_accuracy", 0.0)
    result = run(pm, data_dir, budget=Budget(epochs=3))
    first = result.curve[0]
    assert result.time_to_target_s == first["train_seconds"]
    assert (result.time_to_target_steps, result.time_to_target_samples) == (8, 256)
    monkeypatch.setattr(blobs, "target_accuracy", 1.01)
    unreachable = run(pm, data_dir, budget=Budget(epochs=3))
    assert unreachable.time_to_target_s is None and unreachable.time_to_target_steps is None


def test_same_seed_same_numbers_other_seed_other_numbers(pm, data_dir):
    kwargs = dict(task="digits", arch="cnn", budget=Budget(epochs=1, eval_every=0.25))
    first, second = run(pm, data_dir, seed=3, **kwargs), run(pm, data_dir, seed=3, **kwargs)
    other = run(pm, data_dir, seed=4, **kwargs)
    assert first.run_id == second.run_id
    curve = [p["val_accuracy"] for p in first.curve]
    assert curve == [p["val_accuracy"] for p in second.curve]
    assert first.test_accuracy == second.test_accuracy
    assert curve != [p["val_accuracy"] for p in other.curve]


def test_a_diverging_run_is_recorded_as_diverged(pm, data_dir):
    result = run(
        pm, data_dir, regularizer="diverge", hparams={"diverge.at": 3}, budget=Budget(epochs=2)
    )
    assert result.status == "diverged"
    assert result.steps == 3
    assert result.test_accuracy is None and result.error == "non-finite loss at step 3"
    assert result.chance_accuracy == 0.25  # what the seed counts as on a leaderboard


def test_a_loss_that_explodes_without_nan_is_divergence_too(pm, data_dir):
    from benchbench.training.divergence import EXPLODE_STEPS

    inflated = run(pm, data_dir, regularizer="inflate", budget=Budget(steps=200))
    assert inflated.status == "diverged" and inflated.steps == 5 + EXPLODE_STEPS - 1
    assert inflated.error.startswith("loss exploded: above ")
    # AdamW at a learning rate of a million: finite, enormous losses, chance-level model
    wild = run(pm, data_dir, hparams={"lr": 1e6}, budget=Budget(steps=200))
    assert wild.status == "diverged" and "loss exploded" in wild.error
    assert run(pm, data_dir, hparams={"lr": 0.03}, budget=Budget(steps=200)).status == "ok"


@pytest.mark.parametrize("device_mode", ["every step", "accumulated"])
def test_the_divergence_rule_by_hand(device_mode):
    """First loss 3 -> ceiling 30; 20 steps in a row above it; a dip restarts the count."""
    import torch

    from benchbench.training.divergence import Divergence

    watch = Divergence(torch.device("cpu"))
    watch.every_step = device_mode == "every step"
    losses = [3.0, 2.0] + [31.0] * 19 + [29.0] + [31.0] * 19 + [31.0]
    reasons = [watch(torch.tensor(v), check=True) for v in losses]
    first = next(i for i, r in enumerate(reasons) if r) + 1
    assert first == len(losses)  # step 42: the 20th step in a row above 30
    assert "above 30 (10x its start) for 20 steps in a row, 31 at step 42" in reasons[-1]
    small = Divergence(torch.device("cpu"))  # a start below 1 counts as 1: ceiling 10
    assert [small(torch.tensor(v), check=True) for v in [0.2] + [9.0] * 30] == [None] * 31
    nan = Divergence(torch.device("cpu"))
    nan.every_step = device_mode == "every step"
    assert nan(torch.tensor(1.0), check=False) is None
    if nan.every_step:  # the CPU looks at once
        assert nan(torch.tensor(float("inf")), check=False) == "non-finite loss at step 2"
    else:  # an accelerator looks when asked, and remembers
        assert nan(torch.tensor(float("inf")), check=False) is None
        assert nan(torch.tensor(1.0), check=True) == "non-finite loss by step 3"


@pytest.mark.parametrize("start", [1, 50, 60, 63, 64, 100, 180])
def test_an_accelerator_counts_a_streak_across_its_buffer_folds(start):
    """Unchecked for 200 steps (three folds of the 64-loss buffer): a run of 20 above the
    ceiling starting anywhere, across a fold or not, is found at the next check; 19 are
    not; a non-finite loss in an earlier fold is remembered."""
    import torch

    from benchbench.training.divergence import Divergence

    def watched(losses):
        watch = Divergence(torch.device("cpu"))
        watch.every_step = False
        for value in losses[:-1]:
            assert watch(torch.tensor(value), check=False) is None
        return watch(torch.tensor(losses[-1]), check=True)

    base = [3.0] * 200
    streak = base[:start] + [31.0] * 20 + base[start + 20 :]
    last = streak[-1]
    assert f"above 30 (10x its start) for 20 steps in a row, {last:g} at step 200" in watched(
        streak
    )
    assert watched(base[:start] + [31.0] * 19 + base[start + 19 :]) is None
    assert watched([3.0] * start + [float("nan")] + [3.0] * (199 - start)) == (
        "non-finite loss by step 200"
    )


def test_an_exception_in_a_plugin_fails_only_its_run_and_names_it(pm, data_dir):
    result = run(pm, data_dir, regularizer="explode", budget=Budget(steps=3))
    assert result.status == "failed"
    assert result.error == "RuntimeError: boom"
    assert result.error_component == "regularizer explode"
    assert run(pm, data_dir, budget=Budget(steps=3)).status == "ok"


def test_result_measures_time_throughput_and_loader(pm, data_dir):
    result = run(pm, data_dir, budget=Budget(epochs=2))
    loader = result.loader
    assert 0.0 <= loader["data_wait_fraction"] <= 1.0
    assert loader["data_wait_seconds"] + loader["compute_seconds"] == pytest.approx(
        result.train_seconds
    )
    assert loader["verdict"] in ("input-bound", "compute-bound")
    assert result.samples_per_s == pytest.approx(result.samples_seen / result.train_seconds)
    assert result.params == 8 * 256 + 256 + 256 * 256 + 256 + 256 * 4 + 4
    assert result.provenance["torch"] and result.provenance["device"] == "cpu"
    assert {p["plugin"] for p in result.provenance["plugins"]} >= {"tasks", "bb_test_plugin"}


@pytest.mark.parametrize(
    ("task", "arch", "floor"),
    [
        ("digits", "mlp", 0.85),
        ("digits", "cnn", 0.85),
        ("mnist1d", "mlp", 0.35),
        ("mnist1d", "cnn", 0.6),
    ],
)
def test_built_in_architectures_learn_well_above_chance(pm, data_dir, task, arch, floor):
    result = run(pm, data_dir, task=task, arch=arch, budget=Budget(epochs=4))
    assert result.status == "ok"
    assert result.test_accuracy > floor  # chance is 0.1


def test_lifecycle_hooks_are_called_in_order(pm, data_dir):
    import bb_test_plugin

    observer = bb_test_plugin.Observer()
    pm.register(observer)
    result = run(pm, data_dir, budget=Budget(epochs=2))
    assert observer.calls == [
        ("started", result.run_id),
        ("eval", 8),
        ("eval", 16),
        ("finished", "ok"),
    ]


def test_unknown_loop_hyperparameters_fail_before_training(pm, data_dir):
    from benchbench import BenchbenchError

    with pytest.raises(BenchbenchError, match="did you mean 'lr'"):
        run(pm, data_dir, hparams={"lrr": 0.1})
    with pytest.raises(BenchbenchError, match="'optimizer' is a component kind, not a hyperp"):
        run(pm, data_dir, hparams={"optimizer": "lion"}, budget=Budget(steps=1))


def test_lr_schedule():
    assert lr_factor(0.0, "cosine", 0.0) == 1.0
    assert lr_factor(0.5, "cosine", 0.0) == pytest.approx(0.5)
    assert lr_factor(1.0, "cosine", 0.0) == pytest.approx(0.0)
    assert lr_factor(0.05, "cosine", 0.1) == pytest.approx(0.5, rel=1e-6)
    assert lr_factor(0.55, "cosine", 0.1) == pytest.approx(0.5 * (1 + math.cos(math.pi * 0.5)))
    assert lr_factor(0.7, "constant", 0.0) == 1.0


@pytest.mark.parametrize(
    ("schedule", "warmup", "cooldown", "points"),
    [
        ("linear", 0.0, 0.2, {0.0: 1.0, 0.25: 0.75, 0.5: 0.5, 1.0: 0.0}),
        ("linear", 0.2, 0.2, {0.1: 0.5, 0.2: 1.0, 0.6: 0.5, 1.0: 0.0}),
        ("trapezoid", 0.1, 0.2, {0.05: 0.5, 0.1: 1.0, 0.5: 1.0, 0.8: 1.0, 0.9: 0.5, 1.0: 0.0}),
        ("trapezoid", 0.0, 0.5, {0.25: 1.0, 0.5: 1.0, 0.75: 0.5}),
        ("step", 0.0, 0.2, {0.0: 1.0, 0.49: 1.0, 0.5: 0.1, 0.74: 0.1, 0.75: 0.01, 1.0: 0.01}),
        ("step", 0.2, 0.2, {0.5: 1.0, 0.65: 0.1, 0.85: 0.01}),
    ],
)
def test_the_schedules_algoperf_submissions_use(schedule, warmup, cooldown, points):
    """Linear decay, warmup-stable-decay (a trapezoid) and steps, against the shapes drawn by
    hand: after the warm-up, over what is left of the budget."""
    for progress, factor in points.items():
        assert lr_factor(progress, schedule, warmup, cooldown) == pytest.approx(factor, abs=1e-6)


def test_a_trapezoid_whose_warmup_runs_into_its_cooldown_is_refused_at_plan_time(pm, data_dir):
    from benchbench import BenchbenchError

    hparams = {"schedule": "trapezoid", "warmup": 0.5, "cooldown": 0.6}
    with pytest.raises(BenchbenchError, match=r"warmup 0.5 and cooldown 0.6 overlap"):
        run(pm, data_dir, hparams=hparams, budget=Budget(steps=1))


def test_pretraining_spends_its_share_of_the_same_budget(pm, data_dir):
    from bb_test_plugin import PRETRAIN_CALLS

    PRETRAIN_CALLS.clear()
    budget = Budget(steps=40, eval_every=1)  # blobs: 8 labeled steps per epoch
    result = run(pm, data_dir, ssl="pretrain-probe", budget=budget)
    assert result.status == "ok", result.error
    assert result.steps == 40 and result.pretrain_steps == 10  # share 0.25 of 40
    # every training input, unlabeled, in batches of ratio (2) x the labeled batch (32)
    assert [size for _, size in PRETRAIN_CALLS] == [64] * 10
    assert [round(p, 6) for p, _ in PRETRAIN_CALLS] == [i / 10 for i in range(10)]
    # the fine-tuning phase evaluates every epoch of its own, on the one clock
    assert [p["step"] for p in result.curve] == [18, 26, 34, 40]
    assert result.samples_seen == 10 * 64 + 30 * 32
    assert 0 < result.pretrain_seconds < result.curve[0]["train_seconds"]
    assert result.pretrain_loss >= 0


def test_a_run_without_pretraining_reports_none(pm, data_dir):
    result = run(pm, data_dir, budget=Budget(steps=4))
    assert (result.pretrain_steps, result.pretrain_seconds, result.pretrain_loss) == (0, 0, None)


def test_a_diverging_pretraining_ends_the_run_as_diverged(pm, data_dir):
    from bb_test_plugin import PRETRAIN_CALLS

    PRETRAIN_CALLS.clear()
    hparams = {"pretrain-probe.nan_at": 3}
    result = run(pm, data_dir, ssl="pretrain-probe", budget=Budget(steps=40), hparams=hparams)
    assert result.status == "diverged" and result.steps == 4 and result.curve == []


def test_result_reports_what_deploying_the_model_costs(pm, data_dir):
    result = run(pm, data_dir, budget=Budget(steps=2))
    assert result.model_bytes == 4 * result.params  # float32 weights, an mlp has no buffers
    assert 0 < result.latency_batch1_ms < result.latency_batch1024_ms


def test_a_batch_larger_than_the_training_split_is_said_not_silently_shrunk(data_dir):
    import benchbench as bb
    from benchbench.errors import BenchbenchWarning

    with pytest.warns(BenchbenchWarning, match=r"batch_size 1000000000000 is larger") as said:
        result = bb.run_one("digits", "mlp", steps=2, device="cpu", hparams={"batch_size": 10**12})
    examples = int(str(said[0].message).split("task's ")[1].split()[0])
    assert 1000 < examples < 1797  # digits' training split
    assert result.status == "ok" and result.steps == 2
    assert result.samples_seen == 2 * examples  # every step used the whole split


@pytest.mark.parametrize("data_path", ["device", "memory"])
def test_8bit_pixels_train_exactly_as_the_same_inputs_standardised_up_front(
    pm, data_dir, monkeypatch, data_path
):
    """Images kept as uint8 and standardised batch by batch (labeled, unlabeled, validation
    and test batches) give the very numbers of the float32 inputs standardised up front:
    decoding is elementwise, so decode(x[batch]) is decode(x)[batch], bit for bit."""
    import torch

    from benchbench import Split, Splits
    from benchbench.execution import execute as execute_module

    monkeypatch.setattr("benchbench.training.recording.LATENCY_BATCH", 8)
    spec = resolve_spec(
        pm.registry,
        task="cifar10-semi",
        arch="cnn",
        ssl="fixmatch",
        budget=Budget(steps=6),
        hparams={"cifar10-semi.labels_per_class": 4, "batch_size": 8, "data_path": data_path},
    )
    stored = execute(spec, pm, data_dir)
    loaded = execute_module._load_splits

    def standardised_up_front(*args):
        s = loaded(*args)
        assert s.pixels is not None and s.train.x.dtype == s.unlabeled.dtype == torch.uint8
        f = s.decode
        parts = (Split(f(p.x), p.y) for p in (s.train, s.val, s.test))
        return Splits(*parts, unlabeled=f(s.unlabeled))

    monkeypatch.setattr(execute_module, "_load_splits", standardised_up_front)
    floats = execute(spec, pm, data_dir)
    assert stored.status == floats.status == "ok", (stored.error, floats.error)
    assert stored.steps == floats.steps == 6
    assert stored.test_ece == floats.test_ece and stored.test_accuracy == floats.test_accuracy
    assert [p["val_accuracy"] for p in stored.curve] == [p["val_accuracy"] for p in floats.curve]
    assert 0 < stored.test_ece < 1


@pytest.mark.skipif(not __import__("torch").cuda.is_available(), reason="needs a CUDA GPU")
def test_8bit_pixels_stay_8bit_on_a_gpu_and_decode_there(pm, data_dir, monkeypatch):
    """On a GPU the training split sits on the device as uint8 (a quarter of float32's
    memory), batches are decoded there to what the CPU computes, and a run ends ok."""
    import torch

    from benchbench.data.streams import make_stream

    splits = pm.registry.build("task", "cifar10", {}).load(data_dir)
    choice = make_stream(
        splits.train,
        path="device",
        batch_size=16,
        seed=0,
        device=torch.device("cuda"),
        decode=splits.decode,
    )
    assert choice.stream.x.dtype == torch.uint8 and choice.stream.x.device.type == "cuda"
    x, _ = next(iter(choice.stream))
    assert x.dtype == torch.float32 and x.device.type == "cuda"
    stored = choice.stream.x[:16]
    on_cpu = splits.decode(stored.cpu())
    assert torch.allclose(splits.decode(stored).cpu(), on_cpu, atol=1e-6, rtol=0)
    monkeypatch.setattr("benchbench.training.recording.LATENCY_BATCH", 8)
    spec = resolve_spec(
        pm.registry,
        task="cifar10-semi",
        arch="cnn",
        ssl="fixmatch",
        budget=Budget(steps=6),
        hparams={"cifar10-semi.labels_per_class": 2, "batch_size": 8},
        device="cuda",
    )
    result = execute(spec, pm, data_dir)
    assert result.status == "ok", result.error
    assert result.steps == 6 and 0 <= result.test_accuracy <= 1
