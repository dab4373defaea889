import pytest

from benchbench.profiling import LoaderProfile


def test_fractions_add_up_with_compute():
    profile = LoaderProfile.from_times(data_wait_seconds=1.0, train_seconds=4.0, samples=800)
    assert profile.data_wait_fraction == pytest.approx(0.25)
    assert profile.data_wait_seconds + profile.compute_seconds == pytest.approx(4.0)
    assert profile.loader_samples_per_s == pytest.approx(800.0)
    assert profile.compute_samples_per_s == pytest.approx(800 / 3)


def test_verdicts():
    slow_loader = LoaderProfile.from_times(3.0, 4.0, 100)
    fast_loader = LoaderProfile.from_times(0.1, 4.0, 100)
    assert slow_loader.verdict == "input-bound" and "workers" in slow_loader.recommendation
    assert fast_loader.verdict == "compute-bound"


def test_degenerate_times_stay_in_range():
    profile = LoaderProfile.from_times(5.0, 4.0, 10)  # clamped: wait is part of training
    assert profile.data_wait_fraction == 1.0 and profile.compute_samples_per_s is None
    empty = LoaderProfile.from_times(0.0, 0.0, 0)
    assert empty.data_wait_fraction == 0.0 and empty.loader_samples_per_s is None
