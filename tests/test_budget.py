import time

import pytest

from benchbench.budget import Budget, BudgetClock


def test_budget_needs_a_positive_limit():
    with pytest.raises(ValueError, match="at least one"):
        Budget()
    with pytest.raises(ValueError, match="positive"):
        Budget(epochs=-1)
    with pytest.raises(ValueError, match="unknown budget key"):
        Budget.from_dict({"epoch": 3})


def test_round_trip_keeps_only_set_limits():
    budget = Budget.from_dict({"steps": 7, "seconds": 2.5})
    assert budget.to_dict() == {"steps": 7, "seconds": 2.5, "eval_every": 1.0}
    assert Budget.from_dict(budget.to_dict()) == budget


def test_max_steps_is_the_smaller_of_epochs_and_steps():
    assert BudgetClock(Budget(epochs=2.5), steps_per_epoch=10).max_steps == 25
    assert BudgetClock(Budget(epochs=2.5, steps=7), steps_per_epoch=10).max_steps == 7
    assert BudgetClock(Budget(epochs=0.01), steps_per_epoch=10).max_steps == 1


def test_progress_and_exhaustion_by_steps():
    clock = BudgetClock(Budget(steps=4), steps_per_epoch=2)
    for expected in (0.25, 0.5, 0.75):
        clock.tick(8)
        assert clock.progress() == pytest.approx(expected)
        assert not clock.exhausted()
    clock.tick(8)
    assert clock.exhausted()
    assert (clock.steps, clock.samples, clock.epoch) == (4, 32, 2.0)


def test_paused_time_is_not_training_time():
    clock = BudgetClock(Budget(seconds=10), steps_per_epoch=1)
    clock.start()
    time.sleep(0.05)
    clock.pause()
    time.sleep(0.2)  # evaluation, say
    clock.start()
    time.sleep(0.05)
    clock.pause()
    assert 0.1 <= clock.seconds < 0.2
    assert clock.progress() == pytest.approx(clock.seconds / 10)
