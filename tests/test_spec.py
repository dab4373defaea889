from benchbench import Budget, RunResult, RunSpec


def test_run_id_is_stable_and_sensitive():
    spec = RunSpec(
        task="digits",
        arch="mlp",
        hparams={"lr": 0.1, "mlp.width": 8},
        seed=1,
        budget=Budget(steps=3),
    )
    same = RunSpec(
        task="digits",
        arch="mlp",
        hparams={"mlp.width": 8, "lr": 0.1},
        seed=1,
        budget=Budget(steps=3),
    )
    assert spec.run_id == same.run_id
    assert len(spec.run_id) == 16
    assert spec.run_id != RunSpec(**{**spec.__dict__, "seed": 2}).run_id
    assert spec.run_id != RunSpec(**{**spec.__dict__, "budget": Budget(steps=4)}).run_id


def test_spec_and_result_round_trip():
    spec = RunSpec(task="t", arch="a", hparams={"lr": 0.1, "a.width": 3}, budget=Budget(epochs=2))
    assert RunSpec.from_dict(spec.to_dict()) == spec
    assert spec.component_hparams("a") == {"width": 3}
    assert spec.loop_hparams() == {"lr": 0.1}
    result = RunResult.for_spec(spec, "ok", test_accuracy=0.5)
    assert result.run_id == spec.run_id
    assert RunResult.from_dict(result.to_dict()) == result
    assert result.spec() == spec
