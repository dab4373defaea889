import pytest
import torch

from benchbench import BenchbenchError, Budget
from benchbench.execution.execute import execute
from benchbench.executors import ProcessPoolExecutor
from benchbench.host.devices import resolve_device
from benchbench.planning.resolve import resolve_spec
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


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a CPU-only machine")
def test_cuda_runs_are_planned_here_for_a_cluster_but_checked_where_they_train(registry):
    spec = resolve_spec(registry, task="digits", arch="mlp", device="cuda")
    assert spec.device == "cuda"  # a driver without a GPU may plan runs for a cluster's GPUs
    with pytest.raises(BenchbenchError, match="no CUDA GPU is visible"):
        resolve_device("cuda")  # ... while training here needs one


def test_a_run_refuses_task_files_that_differ_from_those_it_was_planned_with(
    pm, data_dir, tmp_path
):
    import shutil

    spec = resolve_spec(pm.registry, task="mnist", arch="mlp", budget=Budget(steps=2))
    assert execute(spec, pm, data_dir).status == "ok"
    copy = tmp_path / "node-copy"  # another node's copy of the shared folder, one byte off
    shutil.copytree(data_dir / "MNIST", copy / "MNIST")
    image = copy / "MNIST" / "raw" / "t10k-images-idx3-ubyte"
    data = bytearray(image.read_bytes())
    data[-1] ^= 0xFF
    image.write_bytes(bytes(data))
    result = execute(spec, pm, copy)
    assert result.status == "failed"
    assert "files of task mnist" in result.error and "differ from those this run was planned" in (
        result.error
    )
