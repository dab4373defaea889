"""The optimizer kind and its seven built-ins: each update against torch's or a hand
computation, the wrappers against their bases, the loop's closure, what is refused when a
run is planned, and runs stored before optimizers were components."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from benchbench import BenchbenchError, Budget, RunResult, RunSpec
from benchbench.execution.execute import execute
from benchbench.planning.resolve import build_components, resolve_spec
from benchbench.training.stepping import closure, named_groups

BUILT_IN = {"adamw", "sgd", "lion", "sam", "lookahead", "schedule-free", "muon"}


def optimizer_of(registry, name, **hparams):
    """The run's optimizer component, as the loop gets it (a wrapper with its base)."""
    spec = resolve_spec(registry, task="blobs", arch="mlp", optimizer=name, hparams=hparams)
    return build_components(registry, spec).optimizer


def small_model(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))


X = torch.linspace(-1, 1, 20).reshape(5, 4)
Y = torch.tensor([0, 1, 0, 1, 1])


def train(optimizer, model, steps):
    def loss():
        optimizer.zero_grad()
        value = F.cross_entropy(model(X), Y)
        value.backward()
        return value

    for _ in range(steps):
        loss()
        optimizer.step()


def groups(model, lr=0.01):
    return [{"params": list(model.parameters()), "lr": lr}]


def test_seven_built_in_optimizers_are_registered(registry):
    assert BUILT_IN <= set(registry.entries["optimizer"])
    assert registry.entries["optimizer"]["adamw"].cls.kind == "optimizer"


def test_adamw_and_sgd_are_torchs_own_to_the_bit(registry):
    for name, reference in (
        ("adamw", lambda p: torch.optim.AdamW(p, lr=0.01, weight_decay=0.1)),
        (
            "sgd",
            lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9, nesterov=True, weight_decay=0.1),
        ),
    ):
        mine, theirs = small_model(), small_model()
        train(optimizer_of(registry, name).make(groups(mine), 0.1), mine, 4)
        train(reference(theirs.parameters()), theirs, 4)
        for a, b in zip(mine.parameters(), theirs.parameters(), strict=True):
            assert torch.equal(a, b), name


def test_lion_steps_by_the_sign_as_its_paper_writes():
    """Chen et al. 2023, Algorithm 2, one step from zero momentum and a second by hand."""
    from benchbench_optimizers.basic import LionUpdate

    w = torch.tensor([0.5, -2.0, 1.0], requires_grad=True)
    lion = LionUpdate([{"params": [w], "lr": 0.1}], 0.1, (0.9, 0.99), 0.5)
    g1, g2 = torch.tensor([0.3, -0.2, 0.0]), torch.tensor([-1.0, -0.1, 0.2])
    w.grad = g1.clone()
    lion.step()
    expected = torch.tensor([0.5, -2.0, 1.0]) * (1 - 0.1 * 0.5) - 0.1 * torch.sign(0.1 * g1)
    assert torch.allclose(w.detach(), expected)
    momentum = 0.01 * g1
    w.grad = g2.clone()
    lion.step()
    expected = expected * (1 - 0.05) - 0.1 * torch.sign(0.9 * momentum + 0.1 * g2)
    assert torch.allclose(w.detach(), expected)
    assert torch.allclose(lion.state[w]["exp_avg"], 0.99 * momentum + 0.01 * g2)


def test_lookahead_pulls_slow_weights_half_way_every_k_steps(registry):
    start = [p.detach().clone() for p in small_model().parameters()]
    slow, fast = small_model(), small_model()
    look = optimizer_of(registry, "lookahead", **{"lookahead.k": 2, "lookahead.base": "sgd"})
    train(look.make(groups(slow), 0.0), slow, 1)
    plain = optimizer_of(registry, "sgd").make(groups(fast), 0.0)
    train(plain, fast, 1)
    assert all(torch.equal(a, b) for a, b in zip(slow.parameters(), fast.parameters(), strict=True))
    train(look.built, slow, 1)  # the second fast step, then the slow step
    train(plain, fast, 1)
    for w0, a, b in zip(start, slow.parameters(), fast.parameters(), strict=True):
        assert torch.allclose(a, w0 + 0.5 * (b - w0), atol=1e-7)
    assert "slow" in str(look.built.state_dict()["own"]["state"][0].keys())
    assert look.built.state_dict()["base"]["state"][0]["momentum_buffer"].shape == (3, 4)


def test_sam_steps_its_base_with_the_gradient_at_the_climbed_point(registry):
    """f(w) = sum(c (w - t)^2): g at w, e = rho g / ||g||, the base (AdamW) steps with the
    gradient at w + e, from w."""
    c, t = torch.tensor([1.0, 3.0, 0.5]), torch.tensor([0.2, -0.4, 1.0])
    w0 = torch.tensor([1.0, 1.0, -1.0])
    w = w0.clone().requires_grad_(True)
    sam = optimizer_of(registry, "sam", **{"sam.rho": 0.3}).make([{"params": [w], "lr": 0.1}], 0)

    def loss():
        sam.zero_grad()
        value = (c * (w - t) ** 2).sum()
        value.backward()
        return value

    loss()
    g = 2 * c * (w0 - t)
    sam.step(loss)
    climbed = w0 + 0.3 * g / g.norm()
    reference = w0.clone().requires_grad_(True)
    reference.grad = 2 * c * (climbed - t)
    torch.optim.AdamW([reference], lr=0.1, weight_decay=0).step()
    assert torch.allclose(w.detach(), reference.detach(), atol=1e-7)
    with pytest.raises(ValueError, match="step\\(closure\\)"):
        sam.step()


def test_muon_orthogonalises_the_encoders_matrices_and_leaves_the_rest_to_its_base(registry):
    from benchbench_optimizers.muon import lr_scale, orthogonalised

    torch.manual_seed(0)
    for shape in ((8, 5), (5, 8), (6, 3, 3, 3)):
        out = orthogonalised(torch.randn(shape), 5)
        assert out.shape == shape
        singular = torch.linalg.svdvals(out.reshape(shape[0], -1))
        assert singular.min() > 0.6 and singular.max() < 1.25, singular
    assert lr_scale(torch.Size((6, 3, 3, 3)), "original") == 1.0
    assert lr_scale(torch.Size((30, 5)), "original") == pytest.approx(math.sqrt(6))
    assert lr_scale(torch.Size((6, 3, 3, 3)), "match-adamw") == pytest.approx(0.2 * math.sqrt(27))

    model = torch.nn.Module()
    model.encoder = torch.nn.Linear(4, 3)
    model.head = torch.nn.Linear(3, 2)
    muon = optimizer_of(registry, "muon").make(named_groups(groups(model), ("", model)), 0.0)
    own, base = muon.parts
    assert own.param_groups[0]["params"] == [model.encoder.weight]
    assert base.param_groups[0]["param_names"] == ["encoder.bias", "head.weight", "head.bias"]
    assert isinstance(base, torch.optim.AdamW)
    only_vectors = torch.nn.Module()
    only_vectors.head = torch.nn.Linear(3, 2)  # no encoder matrix: all to the base, still trains
    lone = optimizer_of(registry, "muon").make(
        named_groups(groups(only_vectors), ("", only_vectors)), 0.0
    )
    assert len(lone.parts) == 1
    before = only_vectors.head.weight.detach().clone()
    only_vectors.head(X[:, :3]).sum().backward()
    lone.step()
    assert not torch.equal(before, only_vectors.head.weight)


def test_schedule_free_evaluates_its_average_and_trains_with_a_constant_schedule(registry):
    spec = resolve_spec(registry, task="blobs", arch="mlp", optimizer="schedule-free")
    assert spec.hparams["schedule"] == "constant"
    with pytest.raises(BenchbenchError, match="schedule-free averages .* not cosine"):
        resolve_spec(
            registry, task="blobs", arch="mlp", optimizer="schedule-free",
            hparams={"schedule": "cosine"},
        )  # fmt: skip
    model = small_model()
    free = optimizer_of(registry, "schedule-free")
    train(free.make(groups(model, 0.05), 0.0), model, 5)
    trained = [p.detach().clone() for p in model.parameters()]
    free.use_weights(evaluated=True)
    averaged = [p.detach().clone() for p in model.parameters()]
    assert not all(torch.equal(a, b) for a, b in zip(trained, averaged, strict=True))
    free.use_weights(evaluated=False)
    back = list(model.parameters())
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(trained, back, strict=True))


@pytest.mark.parametrize(
    ("optimizer", "hparams", "said"),
    [
        ("lookahead", {"lookahead.base": "adamx"}, "lookahead.base: .*'adamx'.*adamw"),
        (
            "lookahead",
            {"lookahead.base": "sam", "sam.base": "lookahead"},
            "lookahead over sam over lookahead comes back to 'lookahead'",
        ),
        (
            "sam",
            {"sam.rho": -1},
            r"sam.rho=-1 is not allowed: sam.rho must be a number in \(0, 10\]",
        ),
        ("sam", {"precision": "fp16"}, "sam evaluates the loss twice per step"),
        ("adamw", {"momentum": 0.5}, "not the loop's; components declare .*sgd.momentum"),
        ("adamw", {"optimizer": "sgd"}, "'optimizer' is a component kind"),
        ("adamw", {"sgd.momentum": 0.5}, "belongs to optimizer 'sgd'"),
    ],
)
def test_what_cannot_train_is_one_line_when_planned(registry, optimizer, hparams, said):
    with pytest.raises(BenchbenchError, match=said):
        resolve_spec(registry, task="blobs", arch="mlp", optimizer=optimizer, hparams=hparams)


def test_a_base_is_part_of_the_run_its_hyperparameters_and_code(registry, pm):
    from benchbench.planning.targets import Target
    from benchbench.tuning.space import suggest

    spec = resolve_spec(
        registry, task="blobs", arch="mlp", optimizer="lookahead",
        hparams={"lookahead.base": "sgd", "sgd.momentum": 0.5},
    )  # fmt: skip
    assert spec.hparams["sgd.momentum"] == 0.5 and "adamw.beta1" not in spec.hparams
    assert {"optimizer:lookahead", "optimizer:sgd"} <= set(spec.code)
    assert build_components(registry, spec).optimizer.base.hparams["momentum"] == 0.5
    import optuna

    trial = optuna.create_study().ask()
    space = suggest(trial, Target("blobs", "mlp", optimizer="sam"), pm)
    assert set(space) == {"lr", "mlp.width", "mlp.depth", "sam.rho"}
    assert 0.01 <= space["sam.rho"] <= 0.5


def test_the_closure_is_the_same_batch_and_draws_and_keeps_the_statistics(pm, data_dir):
    from bb_test_plugin import _TwoPasses

    _TwoPasses.passes.clear()
    spec = resolve_spec(
        pm.registry, task="digits", arch="cnn", regularizer="mixup", optimizer="closure-probe",
        budget=Budget(steps=3),
    )  # fmt: skip
    assert execute(spec, pm, data_dir).status == "ok"
    assert len(_TwoPasses.passes) == 3
    for first, (loss_a, again), (loss_b, twice) in _TwoPasses.passes:
        assert loss_a == loss_b
        assert all(
            torch.equal(a, b) and torch.equal(a, c)
            for a, b, c in zip(first, again, twice, strict=True)
        )

    norm = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3))
    optimizer = torch.optim.SGD(norm.parameters(), lr=0.1)
    before = [b.clone() for b in norm.buffers()]
    generator = torch.Generator().manual_seed(0)
    value = closure(
        optimizer,
        lambda: (norm(X + torch.rand(X.shape, generator=generator)).sum(), 5),
        norm,
        generator,
        generator.get_state(),
        lambda: torch.autocast("cpu", enabled=False),
    )
    assert value() == value()
    assert all(torch.equal(a, b) for a, b in zip(before, norm.buffers(), strict=True))


def test_an_optimizer_that_breaks_costs_its_own_run_and_is_named(pm, data_dir):
    poisoned = execute(
        resolve_spec(pm.registry, task="blobs", arch="mlp", optimizer="poison-step",
                     budget=Budget(steps=30)),
        pm, data_dir,
    )  # fmt: skip
    assert poisoned.status == "diverged" and poisoned.error_component == "optimizer poison-step"
    assert "step after a finite loss left the weights non-finite" in poisoned.error
    raised = execute(
        resolve_spec(pm.registry, task="blobs", arch="mlp", optimizer="raise-step",
                     budget=Budget(steps=3)),
        pm, data_dir,
    )  # fmt: skip
    assert raised.status == "failed" and raised.error_component == "optimizer raise-step"
    assert raised.error == "RuntimeError: no update today"


@pytest.mark.parametrize("name", ["sam", "lookahead", "lion", "muon", "schedule-free"])
def test_every_optimizer_trains_digits_well_above_chance_and_repeats(pm, data_dir, name):
    spec = resolve_spec(
        pm.registry, task="digits", arch="cnn", optimizer=name, budget=Budget(epochs=3)
    )
    first, again = execute(spec, pm, data_dir), execute(spec, pm, data_dir)
    assert first.status == "ok" and first.test_accuracy > 0.6, first
    assert first.optimizer == name and any(k.startswith(f"{name}.") for k in first.hparams)
    accuracies = [[p["val_accuracy"] for p in r.curve] for r in (first, again)]
    assert first.test_accuracy == again.test_accuracy and accuracies[0] == accuracies[1]


def test_runs_stored_before_optimizers_were_components_keep_their_ids(pm, data_dir):
    """A spec from then names its optimizer in the loop settings (``optimizer``, with SGD's
    ``momentum``): read back, it has the same id, the optimizer it named and its momentum."""
    import hashlib
    import json

    from benchbench.storage.lines import spec_identity

    old = RunSpec(task="blobs", arch="mlp", budget=Budget(steps=4)).to_dict()
    del old["optimizer"]
    resolved = resolve_spec(pm.registry, task="blobs", arch="mlp").hparams
    old["hparams"] = {k: v for k, v in resolved.items() if not k.startswith("adamw.")}
    old["hparams"].update(optimizer="sgd", momentum=0.5)
    then = hashlib.sha256(json.dumps(old, sort_keys=True, separators=(",", ":")).encode())
    spec = RunSpec.from_dict(old)
    assert spec.optimizer == "sgd" and spec.to_dict() == old
    assert spec.run_id == then.hexdigest()[:16]
    built = build_components(pm.registry, spec).optimizer
    assert built.name == "sgd" and built.hparams == {"momentum": 0.5}
    stored = RunResult.for_spec(spec, "ok", test_accuracy=0.5).to_dict()
    del stored["optimizer"]
    assert spec_identity(stored) == spec.run_id
    assert RunResult.from_dict(stored).optimizer == "sgd"
    assert execute(spec, pm, data_dir).status == "ok"


def test_a_database_from_before_gains_the_optimizer_column_read_from_each_run(tmp_path, pm):
    import sqlite3

    from benchbench.storage.store import Store, default_url

    url = default_url(tmp_path)
    store = Store(url)
    specs = [
        resolve_spec(pm.registry, task="blobs", arch="mlp", optimizer=name)
        for name in ("sgd", "lion")
    ]
    for spec in specs:
        store.save(RunResult.for_spec(spec, "ok", test_accuracy=0.5))
    store.engine.dispose()
    with sqlite3.connect(tmp_path / "benchbench.db") as raw:
        raw.execute("ALTER TABLE runs DROP COLUMN optimizer")
        # the first as stored then: its JSON without the field, its loop settings naming SGD
        raw.execute(
            "UPDATE run_results SET result = json_set(json_remove(result, '$.optimizer'), "
            "'$.hparams.optimizer', 'sgd') WHERE run_id = ?",
            (specs[0].run_id,),
        )
    store = Store(url)
    with sqlite3.connect(tmp_path / "benchbench.db") as raw:
        found = dict(raw.execute("SELECT run_id, optimizer FROM runs"))
    assert found == {specs[0].run_id: "sgd", specs[1].run_id: "lion"}


def test_ema_averages_the_bases_iterates_with_a_warmed_up_decay(registry):
    """decay 0.5, warmed up as min(decay, (1 + n) / (10 + n)): shares 0.9 then 1 - 2/11."""
    w = torch.tensor([1.0, -1.0], requires_grad=True)
    twin = w.detach().clone().requires_grad_(True)
    ema = optimizer_of(registry, "ema", **{"ema.decay": 0.5})
    built = ema.make([{"params": [w], "lr": 0.1}], 0.0)
    reference = torch.optim.AdamW([twin], lr=0.1, weight_decay=0.0)
    average = w.detach().clone()
    for share in (0.9, 1 - 2 / 11):
        for p, opt in ((w, built), (twin, reference)):
            p.grad = torch.tensor([0.5, 2.0]) * p.detach()
            opt.step()
        average = average + share * (twin.detach() - average)
    assert torch.equal(w.detach(), twin.detach())  # the base trains as it would alone
    ema.use_weights(evaluated=True)
    assert torch.allclose(w.detach(), average, atol=1e-7)
    ema.use_weights(evaluated=True)  # twice: still the average, the trained weights kept
    ema.use_weights(evaluated=False)
    assert torch.equal(w.detach(), twin.detach())


def test_swa_is_the_plain_mean_of_the_iterates_from_its_start(registry):
    w = torch.tensor([2.0], requires_grad=True)
    swa = optimizer_of(registry, "swa", **{"swa.start": 0.5, "swa.base": "sgd"})
    built = swa.make([{"params": [w], "lr": 0.1}], 0.0)
    seen = []
    for progress in (0.2, 0.6, 0.8):
        swa.on_step(progress)
        w.grad = torch.ones(1)
        built.step()
        seen.append(w.item())
        if progress == 0.2:  # before its start nothing is averaged: the trained weights
            swa.use_weights(evaluated=True)
            assert w.item() == seen[0]
            swa.use_weights(evaluated=False)
    swa.use_weights(evaluated=True)
    assert w.item() == pytest.approx((seen[1] + seen[2]) / 2)


def test_weight_averaging_changes_the_run_id_and_what_is_evaluated(pm, data_dir):
    plain = resolve_spec(pm.registry, task="digits", arch="cnn", budget=Budget(epochs=2))
    averaged = resolve_spec(
        pm.registry, task="digits", arch="cnn", optimizer="ema", budget=Budget(epochs=2),
        hparams={"ema.decay": 0.9},
    )  # fmt: skip
    assert plain.run_id != averaged.run_id
    first, second = execute(plain, pm, data_dir), execute(averaged, pm, data_dir)
    assert second.status == "ok" and second.test_accuracy > 0.8
    assert [p["val_accuracy"] for p in first.curve] != [p["val_accuracy"] for p in second.curve]


def test_show_gives_a_bare_suggestions_range_under_the_components_name():
    """SAM suggests ``rho`` (tuning names it ``sam.rho``): show says what it is tuned over."""
    import benchbench as bb

    text = bb.describe("sam")
    assert any(
        line.startswith("sam.rho") and "[0.01, 0.5] log" in line for line in text.splitlines()
    )
