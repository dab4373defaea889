import pytest

from benchbench import BenchbenchError, Budget
from benchbench.execute import resolve_device, resolve_spec
from benchbench.executors import ProcessPoolExecutor
from benchbench.plugins import PluginConfig


@pytest.mark.e2e
def test_a_hanging_or_crashing_run_costs_only_itself(registry, data_dir):
    def spec(regularizer, seed=0):
        return resolve_spec(
            registry,
            task="blobs",
            arch="mlp",
            regularizer=regularizer,
            seed=seed,
            budget=Budget(steps=5),
        )

    specs = [spec("hang"), spec("crash"), spec("none"), spec("explode")]
    # the hang blocks for good; the others take well under a second of the 10 s they are
    # given (the workers import and load plugins before the clock of their first run starts)
    with ProcessPoolExecutor(
        PluginConfig(modules=("bb_test_plugin",)), data_dir, workers=2, timeout=10
    ) as executor:
        results = {r.regularizer: r for r in executor.run(specs)}
    assert results["hang"].status == "timed-out" and "10 s" in results["hang"].error
    assert results["crash"].status == "failed" and "exit code 3" in results["crash"].error
    assert results["explode"].status == "failed"
    assert results["explode"].error_component == "regularizer explode"
    ok = results["none"]
    assert ok.status == "ok" and ok.steps == 5 and ok.provenance["torch_threads"] == 1


def test_device_resolution():
    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") in ("cpu", "cuda")
    with pytest.raises(BenchbenchError, match="device must be"):
        resolve_device("tpu")
