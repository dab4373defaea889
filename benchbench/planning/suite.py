"""Suite files: tracks of tasks x candidates x seeds, expanded into run specs.

A suite is a TOML or YAML file (YAML read with ``safe_load``)::

    description = "what this suite answers"
    seeds = 3                      # default for every track
    budget = { epochs = 20 }       # default for every track; else each task's own budget

    [[tracks]]
    name = "regularizers"
    kind = "regularizer"           # the component kind under test
    candidates = ["none", "label-smoothing", { name = "label-smoothing", label = "ls-0.3",
                  hparams = { "label-smoothing.alpha" = 0.3 } }]
    baseline = "none"              # a candidate label; the first candidate when omitted
    tasks = ["digits", "mnist1d"]
    fixed = { arch = "mlp" }       # the other components (defaults: none, supervised, full)
    hparams = { lr = 0.003 }       # for every run of the track; "<task>.<name>" for
                                   # that task's runs only

Every run of a track gets the same budget and seeds, so candidates compete on equal terms.
A ``[tuning]`` table (suite-wide, or per track) sets the tuning protocol: ``trials`` per
candidate, ``sampler`` (tpe, random), ``pruner`` (median, hyperband, none), ``seed`` and
``budget`` (of one trial); see :mod:`benchbench.tuning.study`. ``log = ["mlflow:URI"]``
names experiment trackers every run logs to (:mod:`benchbench.tracking`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..budget import Budget
from ..errors import BenchbenchError, unknown_name
from ..kinds import TRACK_KINDS
from ..params import show_value
from ..plugins.registry import Registry
from ..spec import DEFAULT_COMPONENTS, RunSpec
from .checks import InputMismatch, warn
from .resolve import resolve_spec
from .suite_file import SUFFIXES, file_key, read_suite_file
from .targets import Target, TuningConfig

_SUITE_KEYS = {"description", "seeds", "budget", "tracks", "tuning", "tasks", "log"}
"""``tasks``: tasks declared from a user's own data (:mod:`benchbench.planning.declared`)."""
_TRACK_KEYS = {
    "name",
    "kind",
    "candidates",
    "baseline",
    "tasks",
    "fixed",
    "seeds",
    "budget",
    "hparams",
    "tuning",
}


@dataclass(frozen=True)
class Candidate:
    """A component under test; ``label`` names it on the leaderboard (its name by default)."""

    name: str
    label: str
    hparams: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Track:
    """One kind under test: its candidates on its tasks, everything else fixed."""

    name: str
    kind: str
    candidates: tuple[Candidate, ...]
    baseline: str
    tasks: tuple[str, ...]
    fixed: Mapping[str, str]
    seeds: int
    budget: Budget | None
    hparams: Mapping[str, Any]
    tuning: TuningConfig | None = None


@dataclass(frozen=True)
class Suite:
    """A parsed suite. ``key`` identifies it in the results database: a registered suite's name, or
    for a file its stem plus a hash of its absolute path
    (:func:`~benchbench.planning.suite_file.file_key`), so two files with the same name never share
    a leaderboard. ``source`` says where it came from."""

    name: str
    description: str
    tracks: tuple[Track, ...]
    path: Path | None = None
    key: str = ""
    source: str = ""
    log: tuple[str, ...] = ()
    """Experiment trackers every run of the suite logs to (``NAME[:TARGET]``), beside
    those ``--log`` names; they change no run."""

    def __post_init__(self) -> None:
        if not self.key:
            object.__setattr__(self, "key", self.name)
        if not self.source:
            object.__setattr__(self, "source", str(self.path or self.name))


@dataclass(frozen=True)
class PlannedRun:
    """A spec together with the place it fills in a suite."""

    suite: str
    track: str
    task: str
    candidate: str
    seed: int
    baseline: bool
    spec: RunSpec


def _fail(where: str, message: str) -> BenchbenchError:
    return BenchbenchError(f"{where}: {message}")


def _check_keys(raw: Mapping[str, Any], allowed: set[str], where: str, what: str) -> None:
    unknown = [key for key in raw if key not in allowed]
    if unknown:
        listing = sorted(unknown, key=repr)
        raise _fail(where, f"unknown key(s) {listing} ({what} has: {', '.join(sorted(allowed))})")


MAX_SEEDS = 1000
"""More seeds than this is a typo, not a plan: expanding it would take hours before any run."""


def _positive_int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _fail(where, f"must be a whole number >= 1, got {show_value(value)}")
    return value


def _seeds(value: Any, where: str) -> int:
    seeds = _positive_int(value, where)
    if seeds > MAX_SEEDS:
        raise _fail(where, f"must be at most {MAX_SEEDS}, got {seeds}")
    return seeds


def _budget(value: Any, where: str) -> Budget | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise _fail(where, f"must be a table such as {{ epochs = 10 }}, got {show_value(value)}")
    try:
        return Budget.from_dict(value)
    except (TypeError, ValueError) as exc:
        raise _fail(where, str(exc).removeprefix("budget ")) from exc


def _mapping(value: Any, where: str) -> dict[str, Any]:
    """A table with string keys (hyperparameter names, component slots)."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _fail(where, f"must be a table, got {show_value(value)}")
    bad = [key for key in value if not isinstance(key, str)]
    if bad:
        raise _fail(where, f"keys must be names (text), got {show_value(bad[0])}")
    return dict(value)


def _name(value: Any, where: str) -> str:
    """A non-empty name: text, or a number written without quotes."""
    if isinstance(value, bool) or not isinstance(value, str | int | float) or str(value) == "":
        raise _fail(where, f"must be a name, got {show_value(value)}")
    return str(value)


def _tuning(value: Any, where: str, default: TuningConfig | None) -> TuningConfig | None:
    if value is None:
        return default
    if not isinstance(value, Mapping):
        raise _fail(where, f"must be a table such as {{ trials = 20 }}, got {show_value(value)}")
    merged = {**(asdict(default) if default else {}), **value}
    if isinstance(merged.get("budget"), Budget):
        merged["budget"] = merged["budget"].to_dict()
    try:
        return TuningConfig.from_dict(merged)
    except (TypeError, ValueError) as exc:
        raise _fail(where, str(exc)) from exc


def _candidate(value: Any, where: str) -> Candidate:
    if isinstance(value, str) and value:
        return Candidate(value, value)
    if isinstance(value, Mapping) and isinstance(value.get("name"), str) and value["name"]:
        _check_keys(value, {"name", "label", "hparams"}, where, "a candidate")
        return Candidate(
            value["name"],
            _name(value.get("label", value["name"]), f"{where}.label"),
            _mapping(value.get("hparams"), f"{where}.hparams"),
        )
    raise _fail(
        where, f"a candidate is a name or {{ name = ..., hparams = ... }}, got {show_value(value)}"
    )


def _track(
    raw: Any, where: str, seeds: int, budget: Budget | None, tuning: TuningConfig | None
) -> Track:
    if not isinstance(raw, Mapping):
        raise _fail(where, "a track must be a table")
    _check_keys(raw, _TRACK_KEYS, where, "a track")
    for key in ("name", "kind", "candidates", "tasks"):
        if key not in raw:
            raise _fail(where, f"missing {key!r}")
    name = _name(raw["name"], f"{where}.name")
    where = f"{where} ({name})"
    if not isinstance(raw["kind"], str) or raw["kind"] not in TRACK_KINDS:
        raise _fail(
            f"{where}.kind",
            f"must be one of {', '.join(TRACK_KINDS)}; got {show_value(raw['kind'])}",
        )
    if not isinstance(raw["candidates"], list) or not raw["candidates"]:
        raise _fail(f"{where}.candidates", "must be a non-empty list")
    candidates = tuple(
        _candidate(c, f"{where}.candidates[{i}]") for i, c in enumerate(raw["candidates"])
    )
    labels = [c.label for c in candidates]
    if len(set(labels)) != len(labels):
        raise _fail(f"{where}.candidates", f"labels must be unique, got {labels}")
    baseline = raw.get("baseline", labels[0])
    if baseline not in labels:
        raise _fail(
            f"{where}.baseline", f"{show_value(baseline)} is not one of the candidates {labels}"
        )
    tasks = raw["tasks"]
    if not isinstance(tasks, list) or not tasks or not all(isinstance(t, str) and t for t in tasks):
        raise _fail(f"{where}.tasks", "must be a non-empty list of task names")
    fixed = _mapping(raw.get("fixed"), f"{where}.fixed")
    bad = set(fixed) - set(TRACK_KINDS)
    if bad or raw["kind"] in fixed:
        raise _fail(
            f"{where}.fixed",
            "names the components that are not under test: "
            f"{', '.join(TRACK_KINDS)} (not the track's own kind)",
        )
    for slot, component in fixed.items():
        if not isinstance(component, str) or not component:
            raise _fail(
                f"{where}.fixed.{slot}", f"must be a component name, got {show_value(component)}"
            )
    if raw["kind"] != "arch" and "arch" not in fixed:
        raise _fail(f"{where}.fixed", "must name the arch every candidate runs on")
    return Track(
        name=name,
        kind=raw["kind"],
        candidates=candidates,
        baseline=baseline,
        tasks=tuple(tasks),
        fixed=fixed,
        seeds=_seeds(raw.get("seeds", seeds), f"{where}.seeds"),
        budget=_budget(raw.get("budget"), f"{where}.budget") or budget,
        hparams=_mapping(raw.get("hparams"), f"{where}.hparams"),
        tuning=_tuning(raw.get("tuning"), f"{where}.tuning", tuning),
    )


def parse_suite(
    raw: Any, name: str, path: Path | None = None, key: str = "", source: str = ""
) -> Suite:
    """Validate a suite's parsed contents; every problem names the file and the key."""
    where = str(path or name)
    if not isinstance(raw, Mapping):
        raise _fail(where, "a suite file must hold a table at the top")
    _check_keys(raw, _SUITE_KEYS, where, "a suite")
    seeds = _seeds(raw.get("seeds", 1), f"{where}: seeds")
    budget = _budget(raw.get("budget"), f"{where}: budget")
    tracks = raw.get("tracks")
    if not isinstance(tracks, list) or not tracks:
        raise _fail(where, "needs at least one [[tracks]] entry")
    tuning = _tuning(raw.get("tuning"), f"{where}: tuning", None)
    parsed = tuple(
        _track(t, f"{where}: tracks[{i}]", seeds, budget, tuning) for i, t in enumerate(tracks)
    )
    names = [t.name for t in parsed]
    if len(set(names)) != len(names):
        raise _fail(where, f"track names must be unique, got {names}")
    log = raw.get("log", [])
    if isinstance(log, str):
        log = [log]
    if not isinstance(log, list) or not all(isinstance(x, str) and x for x in log):
        raise _fail(where, f"log must be a list of NAME[:TARGET] strings, got {log!r}")
    return Suite(
        name=name,
        description=str(raw.get("description", "")),
        tracks=parsed,
        path=path,
        key=key,
        source=source,
        log=tuple(log),
    )


def load_suite(name_or_path: str, registry: Registry) -> Suite:
    """A suite by registered name (``quick``, ``default``) or by file path."""
    path = Path(name_or_path)
    if path.suffix in SUFFIXES or path.exists():
        if not path.is_file():
            raise BenchbenchError(f"suite file {path} does not exist")
        return parse_suite(
            read_suite_file(path), path.stem, path, file_key(path), str(path.resolve())
        )
    if name_or_path not in registry.suites:
        raise unknown_name("suite", name_or_path, registry.suites)
    path, origin = registry.suites[name_or_path]
    return parse_suite(
        read_suite_file(path), name_or_path, path, source=f"from {origin.describe()}"
    )


def _for_task(hparams: Mapping[str, Any], task: str, registry: Registry) -> dict[str, Any]:
    """A track's hyperparameters for the runs of one task: those of another task of the track
    (``mnist1d-transfer.domain`` in a track that also runs digits-transfer) are left out."""
    tasks = registry.entries["task"]
    return {
        k: v
        for k, v in hparams.items()
        if k.partition(".")[0] not in tasks or k.partition(".")[0] == task
    }


def target(
    track: Track,
    task: str,
    candidate: Candidate,
    registry: Registry,
    device: str,
    budget: Budget | None = None,
) -> Target:
    """What tuning a candidate of a track on a task means: its components, the track's and
    the candidate's hyperparameters fixed, and the trial budget: ``budget``, else the track's
    tuning budget, else the track's."""
    names = {**DEFAULT_COMPONENTS, **track.fixed, track.kind: candidate.name}
    budget = budget or (track.tuning.budget if track.tuning else None) or track.budget
    fixed = {**_for_task(track.hparams, task, registry), **candidate.hparams}
    return Target(task=task, **names, fixed=fixed, budget=budget, device=device)


Tuned = Callable[[Track, str, Candidate], Mapping[str, Any] | None]
"""Given a track, task and candidate, the tuned hyperparameters to run it with, or None."""


def plan(
    suite: Suite,
    registry: Registry,
    device: str = "cpu",
    seeds: int | None = None,
    tuned: Tuned | None = None,
    data_dir: Path | None = None,
) -> list[PlannedRun]:
    """Every run of the suite as a resolved spec, in track, task, candidate, seed order;
    with the hyperparameters ``tuned`` gives (under the fixed ones) where it gives any.

    Unknown component or hyperparameter names fail here, before anything runs.
    """
    runs = []
    for track in suite.tracks:
        for key in track.hparams:
            owner = key.partition(".")[0]
            if owner in registry.entries["task"] and owner not in track.tasks:
                raise BenchbenchError(
                    f"suite {suite.name}, track {track.name}: hyperparameter {key!r} is for "
                    f"task {owner!r}, which the track does not run"
                )
        for task in track.tasks:
            for candidate in track.candidates:
                names = {**DEFAULT_COMPONENTS, **track.fixed, track.kind: candidate.name}
                best = (tuned(track, task, candidate) if tuned else None) or {}
                for seed in range(seeds or track.seeds):
                    try:
                        spec = resolve_spec(
                            registry,
                            task=task,
                            **names,
                            seed=seed,
                            budget=track.budget,
                            hparams={
                                **best,
                                **_for_task(track.hparams, task, registry),
                                **candidate.hparams,
                            },
                            device=device,
                            data_dir=data_dir,
                        )
                    except InputMismatch as exc:
                        where = f"suite {suite.name}, track {track.name}"
                        warn([f"{where}: skipped {candidate.label} on {task}: {exc}"])
                        break
                    except BenchbenchError as exc:
                        raise BenchbenchError(
                            f"suite {suite.name}, track {track.name}: {exc}"
                        ) from exc
                    runs.append(
                        PlannedRun(
                            suite.key,
                            track.name,
                            task,
                            candidate.label,
                            seed,
                            candidate.label == track.baseline,
                            spec,
                        )
                    )
    return runs
