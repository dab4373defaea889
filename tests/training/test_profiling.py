import pytest

from benchbench.training.profiling import LoaderProfile


def test_fractions_add_up_with_compute():
    profile = LoaderProfile.from_times(data_wait_seconds=1.0, train_seconds=4.0, samples=800)
    assert profile.data_wait_fraction == pytest.approx(0.25)
    assert profile.data_wait_seconds + profile.compute_seconds == pytest.approx(4.0)
    assert profile.loader_samples_per_s == pytest.approx(800.0)  # no probe: samples / wait
    probed = LoaderProfile.from_times(1.0, 4.0, 800, loader_samples_per_s=5000.0)
    assert probed.loader_samples_per_s == 5000.0
    assert profile.compute_samples_per_s == pytest.approx(800 / 3)


def test_verdicts_and_the_setting_each_recommends():
    def advice(**settings):
        profile = LoaderProfile.from_times(3.0, 4.0, 100, **settings)
        assert profile.verdict == "input-bound"
        return profile.recommendation

    assert "--set workers=N" in advice(data_path="disk", workers=0)
    assert "data_path=memory" in advice(data_path="disk", workers=0)
    assert "workers" not in advice(data_path="disk", workers=4)
    assert "data_path=device" in advice(data_path="memory", device="cpu")
    assert "pin_memory=true" in advice(data_path="memory", device="cuda")
    assert "on the device already" in advice(data_path="device")
    fast_loader = LoaderProfile.from_times(0.1, 4.0, 100)
    assert fast_loader.verdict == "compute-bound" and "model step" in fast_loader.recommendation


def test_degenerate_times_stay_in_range():
    profile = LoaderProfile.from_times(5.0, 4.0, 10)  # clamped: wait is part of training
    assert profile.data_wait_fraction == 1.0 and profile.compute_samples_per_s is None
    empty = LoaderProfile.from_times(0.0, 0.0, 0)
    assert empty.data_wait_fraction == 0.0 and empty.loader_samples_per_s is None


def test_a_slow_loader_is_input_bound_and_the_device_path_compute_bound(pm, data_dir):
    from benchbench import Budget
    from benchbench.execution.execute import execute
    from benchbench.planning.resolve import resolve_spec

    def profile(path):
        spec = resolve_spec(
            pm.registry,
            task="slow-blobs",
            arch="mlp",
            budget=Budget(steps=12),
            hparams={"data_path": path},
        )
        result = execute(spec, pm, data_dir)
        assert result.status == "ok"
        loader = result.loader
        assert 0.0 <= loader["data_wait_fraction"] <= 1.0
        assert loader["data_wait_seconds"] + loader["compute_seconds"] == pytest.approx(
            result.train_seconds
        )
        assert loader["data_path"] == path
        return loader

    slow = profile("disk")  # 32 examples x 2 ms per batch, against a tiny MLP step
    assert slow["verdict"] == "input-bound" and slow["data_wait_fraction"] > 0.5
    assert "data_path=memory" in slow["recommendation"]
    assert slow["loader_samples_per_s"] < 32 / 0.002 * 1.05  # can't beat the sleeps
    fast = profile("device")
    assert fast["verdict"] == "compute-bound" and fast["data_wait_fraction"] < 0.25
    assert fast["loader_samples_per_s"] > 10 * slow["loader_samples_per_s"]
    assert fast["prepare_seconds"] >= 256 * 0.002  # decoding everything once is timed


def test_sweep_summary_names_the_fastest_and_the_compute_alone_rate():
    from benchbench.running.loader_sweep import SweepRow, loader_settings, summarize

    def row(setting, path, rate, compute=None):
        return SweepRow(
            setting, path, 0, False, rate, None, compute, 0.1, "compute-bound", 0.0, "ok"
        )

    rows = [row("device", "device", 900.0, compute=1000.0), row("disk, 0 workers", "disk", 100.0)]
    assert summarize(rows) == (
        "fastest: device at 900 samples/s, 90% of the compute-alone rate "
        "(1,000 samples/s); the slowest, disk, 0 workers, trains 9.0x slower"
    )
    assert len(loader_settings(on_disk=True, max_workers=2, cuda=False)) == 1 + 1 + 3
    assert len(loader_settings(on_disk=False, max_workers=2, cuda=True)) == 1 + 2


def test_a_cuda_data_wait_is_the_gpu_time_between_its_events(monkeypatch):
    """The bookkeeping of GPU-timed waits, with events faked: each draw is bracketed by two
    events; the finished pairs are read every SETTLE_EVERY draws without blocking (an
    unfinished pair and those after it wait), and settle() reads the rest."""
    import torch

    from benchbench.training import profiling

    clock = {"now": 0.0, "gpu_done_upto": 0.0}

    class FakeEvent:
        def __init__(self, enable_timing):
            assert enable_timing
            self.at = None

        def record(self):
            self.at = clock["now"]

        def query(self):
            return self.at <= clock["gpu_done_upto"]

        def synchronize(self):
            clock["gpu_done_upto"] = max(clock["gpu_done_upto"], self.at)

        def elapsed_time(self, end):
            return (end.at - self.at) * 1000.0  # milliseconds, as CUDA's

    monkeypatch.setattr(torch.cuda, "Event", FakeEvent)
    monkeypatch.setattr(profiling, "SETTLE_EVERY", 4)
    wait = profiling.DataWait(torch.device("cuda"))
    assert wait.clock == "gpu events"

    def draw():  # each batch takes 0.5 s of GPU time, then 1 s of compute follows
        clock["now"] += 0.5
        return "batch"

    for _ in range(6):
        clock["gpu_done_upto"] = clock["now"] - 3.0  # the GPU trails the host by two steps
        assert wait(draw) == "batch"
        clock["now"] += 1.0
    # from the 4th draw on, each draw finds the GPU past one more pair (it trails by two
    # draws): three pairs read (1.5 s), three pending
    assert wait.seconds == pytest.approx(1.5) and len(wait._pending) == 3
    assert wait.settle() == pytest.approx(3.0) and wait._pending == []
    cpu = profiling.DataWait(torch.device("cpu"))
    assert cpu.clock == "host" and cpu(lambda: 7) == 7 and cpu.seconds >= 0.0
