"""Tuning with Optuna: the protocol, studies stored beside the results, tuned suites."""
