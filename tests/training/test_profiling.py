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
    from benchbench.running.execute import execute
    from benchbench.running.resolve import resolve_spec

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
