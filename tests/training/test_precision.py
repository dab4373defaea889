"""The loop settings that change how a run computes: precision, channels-last, compilation,
and the CUDA backend flags."""

import dataclasses
import shutil

import pytest
import torch

from benchbench import BenchbenchError, Budget
from benchbench.execution.execute import execute
from benchbench.planning.resolve import resolve_spec

SETTINGS = {
    "precision": "bf16",
    "channels_last": True,
    "compile": "default",
    "tf32": True,
    "cudnn_benchmark": True,
}


def run(pm, arch="cnn", steps=60, **hparams):
    spec = resolve_spec(
        pm.registry, task="digits", arch=arch, budget=Budget(steps=steps), hparams=hparams
    )
    return spec, execute(spec, pm)


def test_bf16_with_channels_last_learns_repeats_and_is_another_run(pm):
    spec, plain = run(pm)
    mixed_spec, mixed = run(pm, precision="bf16", channels_last=True)
    assert plain.status == mixed.status == "ok", (plain.error, mixed.error)
    assert mixed.hparams["precision"] == "bf16" and mixed.hparams["channels_last"] is True
    assert mixed.run_id != plain.run_id
    assert mixed.test_accuracy > 0.8  # ten classes: chance is 0.1
    assert abs(mixed.test_accuracy - plain.test_accuracy) < 0.05
    _, again = run(pm, precision="bf16", channels_last=True)
    assert again.test_ece == mixed.test_ece and again.curve[-1] == {
        **mixed.curve[-1],
        "train_seconds": again.curve[-1]["train_seconds"],
    }


def test_channels_last_alone_gives_the_default_formats_accuracy(pm):
    _, plain = run(pm)
    _, last = run(pm, channels_last=True)
    assert last.status == "ok" and abs(last.test_accuracy - plain.test_accuracy) <= 0.02


def test_fp16_takes_the_gradient_scaler_path(pm, monkeypatch):
    calls = {"scale": 0, "step": 0, "update": 0}

    class Counting(torch.amp.GradScaler):
        def scale(self, outputs):
            calls["scale"] += 1
            return super().scale(outputs)

        def step(self, optimizer, *args, **kwargs):
            calls["step"] += 1
            return super().step(optimizer, *args, **kwargs)

        def update(self, new_scale=None):
            calls["update"] += 1
            return super().update(new_scale)

    monkeypatch.setattr(torch.amp, "GradScaler", Counting)
    _, result = run(pm, arch="mlp", steps=12, precision="fp16")
    assert result.status == "ok", result.error
    assert calls == {"scale": 12, "step": 12, "update": 12}
    _, plain = run(pm, arch="mlp", steps=12)
    assert calls["scale"] == 12  # fp32 never builds a scaler


def test_every_setting_is_part_of_the_run_id_and_of_the_result(pm):
    def run_id(**hparams):
        return resolve_spec(
            pm.registry, task="digits", arch="cnn", hparams=hparams, device="cuda"
        ).run_id

    ids = {run_id()} | {run_id(**{name: value}) for name, value in SETTINGS.items()}
    assert len(ids) == 1 + len(SETTINGS)
    spec = resolve_spec(pm.registry, task="digits", arch="mlp")
    assert {name: spec.hparams[name] for name in SETTINGS} == {
        "precision": "fp32",
        "channels_last": False,
        "compile": "none",
        "tf32": False,
        "cudnn_benchmark": False,
    }


@pytest.mark.parametrize(
    ("hparams", "task", "message"),
    [
        ({"tf32": True}, "digits", "tf32 is a CUDA setting and this run trains on cpu"),
        (
            {"tf32": True, "cudnn_benchmark": True},
            "digits",
            "tf32, cudnn_benchmark are CUDA settings",
        ),
        ({"channels_last": True}, "mnist1d", "memory format for images; this task's inputs"),
        ({"precision": "fp8"}, "digits", "precision must be one of 'fp32', 'bf16', 'fp16'"),
    ],
)
def test_a_setting_that_cannot_apply_is_one_line(pm, hparams, task, message):
    with pytest.raises(BenchbenchError, match=message):
        resolve_spec(pm.registry, task=task, arch="cnn", hparams=hparams)


def test_a_spec_made_before_the_settings_existed_trains_as_before(pm):
    spec, now = run(pm, arch="mlp", steps=30)
    older = {k: v for k, v in spec.hparams.items() if k not in SETTINGS}
    then = execute(dataclasses.replace(spec, hparams=older), pm)
    assert then.status == "ok" and then.test_ece == now.test_ece
    assert [p["val_accuracy"] for p in then.curve] == [p["val_accuracy"] for p in now.curve]


@pytest.mark.e2e
@pytest.mark.skipif(shutil.which("cc") is None, reason="torch.compile needs a C compiler")
def test_a_compiled_net_trains_and_reports_its_compile_time(pm):
    _, result = run(pm, arch="mlp", steps=40, compile="default")
    assert result.status == "ok", result.error
    assert result.test_accuracy > 0.8
    assert result.machine["compile_seconds"] > 0
    assert result.machine["compile_seconds"] < result.train_seconds  # on the clock
    # warmed up off the clock: the same numbers (the warm-up puts everything back)
    _, warm = run(pm, arch="mlp", steps=40, compile="default", compile_warmup=True)
    assert warm.status == "ok" and warm.run_id != result.run_id
    assert warm.machine["compile_seconds"] > 0
    assert [p["val_accuracy"] for p in warm.curve] == [p["val_accuracy"] for p in result.curve]
    assert warm.test_accuracy == result.test_accuracy


def test_a_warm_up_puts_weights_buffers_and_draws_back_and_keeps_every_batch():
    from benchbench.training.stepping import warmed

    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    generator = torch.Generator().manual_seed(0)
    drawn = generator.get_state()
    batches = iter([torch.ones(5, 3), torch.zeros(5, 3)])

    def loss(x, progress):
        noisy = x + torch.rand(x.shape, generator=generator)
        return model(noisy).sum(), len(x)

    off = lambda: torch.autocast("cpu", enabled=False)  # noqa: E731
    again, seconds = warmed(batches, model, loss, generator, off, lambda: None)
    assert seconds >= 0 and torch.equal(generator.get_state(), drawn)
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    assert all(p.grad is None for p in model.parameters())
    assert [b.sum().item() for b in again] == [15.0, 0.0]


def test_a_warm_up_without_compile_is_refused(pm):
    with pytest.raises(BenchbenchError, match="compile_warmup warms up a compiled model"):
        run(pm, compile_warmup=True)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_on_a_gpu_the_settings_apply_and_results_record_memory_and_the_gpu(pm):
    hparams = {"precision": "bf16", "channels_last": True, "tf32": True, "cudnn_benchmark": True}
    spec = resolve_spec(
        pm.registry,
        task="digits",
        arch="cnn",
        budget=Budget(steps=30),
        hparams=hparams,
        device="cuda",
    )
    result = execute(spec, pm)
    assert result.status == "ok", result.error
    assert result.machine["tf32"] is True and result.machine["cudnn_benchmark"] is True
    machine = result.machine
    assert 0 < machine["peak_memory_allocated_mb"] <= machine["peak_memory_reserved_mb"]
    assert result.provenance["cuda"] == torch.version.cuda
    assert result.provenance["gpu_memory_gb"] > 1 and result.test_accuracy > 0.3
    spec = resolve_spec(
        pm.registry,
        task="digits",
        arch="cnn",
        budget=Budget(steps=30),
        hparams={"precision": "fp16"},
        device="cuda",
    )
    result = execute(spec, pm)
    assert result.status == "ok" and result.machine["tf32"] is False  # set per run
