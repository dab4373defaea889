"""One run, in this process: :func:`~.execute.execute` turns a spec into a
:class:`~benchbench.RunResult`, the single entry to training."""
