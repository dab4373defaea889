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


def test_the_spec_and_the_result_name_the_kinds_as_they_are_declared():
    """The kinds are declared once (benchbench.kinds); the dataclasses keep explicit fields
    (for readers and type checkers), held here to the declaration: the first fields are the
    kinds in order, each defaulting to its kind's default component, and run_one takes each
    kind as a keyword with that default."""
    import dataclasses
    import inspect

    import benchbench as bb
    from benchbench.kinds import DEFAULT_COMPONENTS, KIND_NAMES, KINDS
    from benchbench.spec import RunResult, RunSpec

    spec_fields = dataclasses.fields(RunSpec)[: len(KIND_NAMES)]
    assert tuple(f.name for f in spec_fields) == KIND_NAMES
    defaults = {f.name: f.default for f in spec_fields if f.default is not dataclasses.MISSING}
    assert (
        defaults
        == DEFAULT_COMPONENTS
        == {"regularizer": "none", "ssl": "supervised", "finetune": "full", "optimizer": "adamw"}
    )
    result_fields = [f.name for f in dataclasses.fields(RunResult)]
    assert result_fields[2 : 2 + len(KIND_NAMES)] == list(KIND_NAMES)
    keywords = inspect.signature(bb.run_one).parameters
    assert {k: keywords[k].default for k in DEFAULT_COMPONENTS} == DEFAULT_COMPONENTS
    assert [kind.base_class().__name__ for kind in KINDS] == [
        "Task", "Architecture", "Regularizer", "SSL", "Finetune", "Optimizer"
    ]  # fmt: skip
