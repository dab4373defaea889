"""Fine-tune strategies train exactly what they claim, on a real transfer task."""

import re

import pytest
import torch

from benchbench import BenchbenchError, Budget, RunSpec
from benchbench.execution.execute import execute, source_encoder
from benchbench.planning.resolve import build_components, resolve_spec
from benchbench.plugins import PluginConfig, get_plugin_manager
from benchbench.training.loop import train_model

PM = get_plugin_manager(PluginConfig())


def fine_tune(data_dir, finetune, hparams=None, steps=30, task="digits-transfer", ssl="supervised"):
    """Fine-tune the cached digits 0-4 cnn on digits 5-9; the result, the trained model and
    the encoder weights it started from."""
    spec = resolve_spec(
        PM.registry,
        task=task,
        arch="cnn",
        ssl=ssl,
        finetune=finetune,
        hparams=hparams,
        budget=Budget(steps=steps, eval_every=10),
    )
    parts = build_components(PM.registry, spec)
    start, _ = source_encoder(spec, parts.task, PM, data_dir)
    start = {k: v.clone() for k, v in start.items()}
    torch.manual_seed(spec.seed)
    result, model = train_model(
        spec, parts, parts.task.load(data_dir), torch.device("cpu"), initial_encoder=start
    )
    return result, model, start


def changed(model, start, block):
    """Which tensors (parameters and buffers) of an encoder block differ from the start."""
    state = model.encoder.state_dict()
    return {
        name: not torch.equal(state[name], start[name])
        for name in start
        if name.startswith(f"{block}.")
    }


def test_a_transfer_run_starts_from_the_cached_source_model(data_dir):
    spec = resolve_spec(PM.registry, task="digits-transfer", arch="cnn", budget=Budget(steps=20))
    first, second = execute(spec, PM, data_dir), execute(spec, PM, data_dir)
    assert first.status == "ok", first.error
    assert first.source["task"] == "digits-source" and first.source["test_accuracy"] > 0.9
    assert second.source["cached"] and second.source["run_id"] == first.source["run_id"]
    assert first.test_accuracy == second.test_accuracy
    assert first.test_accuracy > 0.5  # 5 classes, 10 labels each: chance is 0.2


def test_a_damaged_cached_source_model_is_trained_again(data_dir):
    spec = resolve_spec(PM.registry, task="digits-transfer", arch="cnn", budget=Budget(steps=2))
    good = execute(spec, PM, data_dir)
    path = data_dir / "sources" / f"{good.source['run_id']}.pt"
    intact = path.read_bytes()
    path.write_bytes(intact[: len(intact) // 2])  # a truncated write, a full disk
    rebuilt = execute(spec, PM, data_dir)
    assert rebuilt.status == "ok" and not rebuilt.source["cached"]
    assert rebuilt.source["test_accuracy"] == good.source["test_accuracy"]  # the same model
    assert rebuilt.test_accuracy == good.test_accuracy
    assert execute(spec, PM, data_dir).source["cached"]  # and cached again


def test_linear_probe_trains_the_head_only(data_dir):
    result, model, start = fine_tune(data_dir, "linear-probe")
    assert result.status == "ok" and result.steps == 30
    for block in ("conv1", "conv2", "conv3"):
        assert not any(changed(model, start, block).values())  # weights and BN statistics
    assert result.test_accuracy > 0.5


@pytest.mark.parametrize("k", [1, 2])
def test_last_k_trains_the_last_k_blocks(data_dir, k):
    result, model, start = fine_tune(data_dir, "last-k", {"last-k.k": k})
    trained = [any(changed(model, start, b).values()) for b in ("conv1", "conv2", "conv3")]
    assert trained == [i >= 3 - k for i in range(3)]


def test_discriminative_rates_decay_from_the_head_down():
    model = PM.registry.build("arch", "cnn").build((1, 8, 8), 5)
    groups = PM.registry.build("finetune", "discriminative-lr").param_groups(model, 0.01)
    assert [g["lr"] for g in groups] == pytest.approx(
        [0.01, 0.01 / 2.6, 0.01 / 2.6**2, 0.01 / 2.6**3]
    )
    assert groups[1]["params"] == list(model.encoder.conv3.parameters())
    assert sum(len(g["params"]) for g in groups) == len(list(model.parameters()))


def test_gradual_unfreezing_follows_its_schedule():
    model = PM.registry.build("arch", "cnn").build((1, 8, 8), 5)
    strategy = PM.registry.build("finetune", "gradual-unfreeze", {"until": 0.6})
    strategy.param_groups(model, 0.01)
    unfrozen = []
    for progress in (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.9):
        strategy.on_step(model, progress)
        flags = [next(b.parameters()).requires_grad for b in model.encoder]
        assert flags == sorted(flags)  # from the top down: never a frozen block above
        assert [b.training for b in model.encoder] == flags
        unfrozen.append(sum(flags))
    assert unfrozen == [0, 0, 1, 1, 2, 2, 3, 3]  # blocks at 0.2, 0.4 and 0.6


def test_gradual_unfreezing_leaves_a_block_untouched_until_its_turn(data_dir):
    # until 1.0: conv3 from 1/3 of the run, conv2 from 2/3, conv1 only once it is over
    result, model, start = fine_tune(data_dir, "gradual-unfreeze", {"gradual-unfreeze.until": 1.0})
    assert not any(changed(model, start, "conv1").values())
    assert all(changed(model, start, "conv3").values())


def test_svm_takes_no_gradient_step_and_its_head_is_sklearns_classifier(data_dir):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC

    result, model, start = fine_tune(data_dir, "svm")
    assert result.status == "ok" and result.steps == 0 and len(result.curve) == 1
    assert all(torch.equal(v, start[k]) for k, v in model.encoder.state_dict().items())
    assert result.test_accuracy > 0.5
    splits = PM.registry.build("task", "digits-transfer").load(data_dir)
    model.eval()
    with torch.no_grad():
        train_features = model.features(splits.train.x).numpy()
        test_features = model.features(splits.test.x)
        ours = model.head(test_features).argmax(1).numpy()
    reference = make_pipeline(StandardScaler(), LinearSVC(C=0.01, max_iter=1000, random_state=0))
    reference.fit(train_features, splits.train.y.numpy())
    assert (ours == reference.predict(test_features.numpy())).mean() > 0.99


def test_scratch_ignores_the_source_model(data_dir):
    def run(task, finetune):
        spec = resolve_spec(
            PM.registry, task=task, arch="cnn", finetune=finetune, budget=Budget(steps=5)
        )
        return execute(spec, PM, data_dir)

    scratch = run("digits-transfer", "scratch")
    assert scratch.status == "ok" and scratch.source == {}
    assert run("digits-transfer", "full").source["task"] == "digits-source"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(finetune="scratch", ssl="simclr", task="digits-semi"), "would discard ssl 'simclr'"),
        (dict(finetune="svm", regularizer="mixup", task="digits"), "'mixup' would have no effect"),
        (dict(finetune="svm", ssl="fixmatch", task="digits-semi"), "'fixmatch' trains jointly"),
    ],
)
def test_strategies_that_cannot_combine_are_refused_when_planned(data_dir, kwargs, message):
    with pytest.raises(BenchbenchError, match=re.escape(message)):
        resolve_spec(PM.registry, arch="cnn", budget=Budget(steps=4), **kwargs)
    spec = RunSpec(arch="cnn", budget=Budget(steps=4), **kwargs)  # made by hand: refused too
    result = execute(spec, PM, data_dir)
    assert result.status == "failed" and message in result.error
