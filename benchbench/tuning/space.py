"""A candidate's search space: the loop's and every component's at once, each suggestion
named ``<component>.<name>`` as in specs, so one study holds every hyperparameter of a run."""

from __future__ import annotations

from typing import Any

from ..errors import BenchbenchError
from ..planning.resolve import build_components
from ..planning.targets import Target
from ..plugins.manager import PluginManager
from ..training.settings import loop_search_space


def suggest(trial: Any, target: Target, pm: PluginManager) -> dict[str, Any]:
    """One configuration: the loop's search space and every component's at once, named
    ``<component>.<name>`` as in specs; the candidate's fixed hyperparameters win."""
    parts = build_components(pm.registry, target.spec(pm, {}, 0))
    hparams = dict(loop_search_space(trial))
    members = getattr(parts.regularizer, "members", [parts.regularizer])
    optimizers, optimizer = [], parts.optimizer
    while optimizer is not None:  # a wrapper, then its base...
        optimizers.append(optimizer)
        optimizer = optimizer.base
    for component in (parts.arch, *members, parts.ssl, parts.finetune, *optimizers):
        space = component.search_space(Namespaced(trial, component.name))
        unknown = sorted(set(space) - set(component.defaults))
        if unknown:
            raise BenchbenchError(
                f"{component.kind} {component.name!r}: search_space returns {unknown}, which "
                f"are not among its hyperparameters ({', '.join(sorted(component.defaults))})"
            )
        for key, value in space.items():
            hparams[f"{component.name}.{key}"] = value
    return {k: v for k, v in hparams.items() if k not in target.fixed}


class Namespaced:
    """A trial as one component sees it: a suggestion's name gets the component's name in
    front (``width`` becomes ``mlp.width``) unless it already has it, so two components that
    suggest the same bare name never clash in one study."""

    def __init__(self, trial: Any, component: str) -> None:
        self._trial, self._prefix = trial, f"{component}."

    def _name(self, name: str) -> str:
        return name if name.startswith(self._prefix) else self._prefix + name

    def suggest_float(self, name: str, *args: Any, **kwargs: Any) -> Any:
        return self._trial.suggest_float(self._name(name), *args, **kwargs)

    def suggest_int(self, name: str, *args: Any, **kwargs: Any) -> Any:
        return self._trial.suggest_int(self._name(name), *args, **kwargs)

    def suggest_categorical(self, name: str, *args: Any, **kwargs: Any) -> Any:
        return self._trial.suggest_categorical(self._name(name), *args, **kwargs)

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._trial, attr)
