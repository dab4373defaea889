"""Tuning a whole suite: the protocol each track gets (its ``[tuning]`` table under the
options given to ``tune SUITE``), the target of every candidate, what is recorded for
``run SUITE --tuned``, and the line that run says before training."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from ..budget import Budget
from ..errors import BenchbenchError
from ..identity import changes
from ..phrasing import either, option
from ..planning.suite import Suite, target
from ..planning.targets import TuningConfig
from ..plugins.manager import PluginManager


def tuned_line(name: str, untuned: str, settings: dict[Any, dict[str, Any]]) -> str:
    """The line 'run --tuned' says before training: what it runs and how much tuning found
    it; unequal trial counts within a track are named, since they make the comparison unfair."""
    counts: dict[str, set[int]] = {}
    for (track, _, _), summary in settings.items():
        counts.setdefault(track, set()).add(int(summary.get("trials", 0)))
    parts = []
    for track, trials in counts.items():
        if len(trials) == 1:
            parts.append(f"{track}: {trials.pop()} trials each")
        else:
            parts.append(f"{track}: {min(trials)}-{max(trials)} trials (unequal: not a fair test)")
    return (
        f"suite {name}: {len(settings)} places run the best settings "
        f"{either(f'benchbench tune {untuned}', f'bb.tune({untuned!r})')} found "
        f"({'; '.join(parts)})"
    )


def check_tuned_code(name: str, settings: dict[Any, dict[str, Any]], planned: Any) -> None:
    """Refuse to run tuned settings that were found with other code than the runs would
    use (an upgraded plugin, an edited source tree): that component must be tuned again."""
    stale = {
        (p.track, p.task, p.candidate): changes(
            settings[(p.track, p.task, p.candidate)].get("code", {}), p.spec.code
        )
        for p in planned
        if (p.track, p.task, p.candidate) in settings
    }
    stale = {place: lines for place, lines in stale.items() if lines}
    if stale:
        place, lines = next(iter(stale.items()))
        raise BenchbenchError(
            f"suite {name}: {len(stale)} places were tuned with other code than they would "
            f"run with (such as {'/'.join(place)}: {lines[0]}); {_tune(name)} again"
        )


def tuning_config(track: Any, budget: Budget | None, chosen: dict[str, Any]) -> Any:
    """A track's tuning protocol (its own, else the defaults) with the options given."""
    base = (track.tuning if track is not None else None) or TuningConfig()
    given = {k: v for k, v in chosen.items() if v is not None}
    return replace(base, **given, budget=budget or base.budget)


def protocol_of(config: Any) -> dict[str, Any]:
    """The protocol recorded with a place's tuning: trials, sampler, pruner, seed, budget."""
    budget = config.budget.to_dict() if config.budget else None
    return {"trials": config.trials, **config.protocol(), "budget": budget}


def suite_tuning_jobs(
    loaded: Any,
    pm: PluginManager,
    device: str,
    budget: Budget | None,
    chosen: dict[str, Any],
    sets: dict[str, Any],
    data_dir: Path | None,
) -> list[tuple[str, tuple[str, str, str], Any, Any]]:
    """(label, place, target, config) for every candidate of a suite: the track's protocol
    with the options given, ``sets`` fixed wherever a candidate has that hyperparameter.
    Every name and value is checked here, before anything is created."""
    jobs, used = [], set()
    for track in loaded.tracks:
        config = tuning_config(track, budget, chosen)
        for task in track.tasks:
            for candidate in track.candidates:
                one = target(track, task, candidate, pm.registry, device, config.budget)
                known = one.spec(pm, {}, config.seed, data_dir).hparams
                mine = {k: v for k, v in sets.items() if k in known}
                used.update(mine)
                one = replace(one, fixed={**one.fixed, **mine})
                one.spec(pm, {}, config.seed, data_dir)
                place = (track.name, task, candidate.label)
                jobs.append(("/".join(place), place, one, config))
    unused = sorted(set(sets) - used)
    if unused:
        raise BenchbenchError(
            f"{either('--set', 'hparams')} {unused[0]}: no candidate of suite {loaded.name} "
            "has this hyperparameter"
        )
    return jobs


TUNED_SUFFIX = "-tuned"


def tuned_variant(suite: Suite) -> Suite:
    """The suite run with the settings 'benchbench tune SUITE' found: another benchmark, so
    another name (``quick-tuned``) and key in the results database and its own leaderboard
    files; the untuned suite's are never overwritten."""
    stem, at, path_hash = suite.key.partition("@")  # a file's key: stem@hash of its path
    key = f"{stem}{TUNED_SUFFIX}{at}{path_hash}"
    return replace(suite, name=suite.name + TUNED_SUFFIX, key=key)


def tuned_settings(suite: Suite, tunings: Any) -> dict[tuple[str, str, str], dict[str, Any]]:
    """Each (track, task, candidate) place's tuning summary, from what 'benchbench tune
    SUITE' recorded (:meth:`Store.tunings <benchbench.storage.tunings.Tunings.tunings>` of
    :func:`tuned_variant`'s key). Raises one error naming the places that were not tuned (or not to
    the end)."""
    found = (
        {}
        if tunings.empty
        else {(r["track"], r["task"], r["candidate"]): r.to_dict() for _, r in tunings.iterrows()}
    )
    places = [
        (track.name, task, c.label)
        for track in suite.tracks
        for task in track.tasks
        for c in track.candidates
    ]
    missing = [place for place in places if not found.get(place, {}).get("best_params")]
    if len(missing) == len(places):
        raise BenchbenchError(
            f"suite {suite.name} has not been tuned here: {_tune(suite.name)} (same "
            f"{option('out')} or {option('storage')}) first"
        )
    if missing:
        listing = ", ".join("/".join(p) for p in missing[:5])
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise BenchbenchError(
            f"suite {suite.name}: {len(missing)} of {len(places)} places have no finished "
            f"tuning ({listing}{more}); {_tune(suite.name)} to finish it"
        )
    return {place: found[place] for place in places}


def _tune(suite: str) -> str:
    """How the caller tunes ``suite`` (a ``-tuned`` variant's own suite)."""
    name = suite.removesuffix("-tuned")
    return either(f"run 'benchbench tune {name}'", f"call bb.tune({name!r})")
