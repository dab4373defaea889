"""Built-in fine-tune strategies: which parameters learn, how fast and when."""

import benchbench


class Full(benchbench.Finetune):
    """Every parameter trains at the run's learning rate (the default of every run)."""

    name = "full"
    summary = "every parameter trains at the run's learning rate"


@benchbench.hookimpl
def benchbench_register_components(registry):
    registry.add(Full)
