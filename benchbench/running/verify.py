"""Checking a result set by training its runs again here: ``benchbench verify``.

A run id hashes everything that made a run (its spec, its code, its numerics mode), not what
the run measured, so an edited accuracy keeps its id. Training on the CPU in ``portable``
numerics repeats bit for bit on every x86 machine for the same thread count
(:mod:`.numerics`), so the check is simply to rerun: each sampled run is trained again with
its own spec, in its own numerics mode and with the thread count it recorded, and what it
measures is compared with what the set says. Portable CPU runs must agree exactly (test
accuracy, validation curve, steps, parameters); ``native`` and GPU runs within
:data:`TOLERANCE`. Time columns are reported, never judged: they belong to the machine.

A run made by other code than is installed here is not rerun (its numbers could honestly
differ); the row names the components that differ. ``any_code`` reruns it under the
installed code anyway: the regression check that a refactor moved no published number.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd

from ..arguments import checked
from ..errors import BenchbenchError
from ..paths import PathLike, optional_path
from ..phrasing import flag
from ..progress import Console
from ..spec import KIND_NAMES, RunResult, RunSpec

TOLERANCE = 0.02
"""Largest difference in test and best validation accuracy accepted for runs that do not
repeat bit for bit (``native`` numerics, GPUs): about two standard errors of an accuracy
near 0.5 on 1,000 test samples."""
EXACT_FIELDS = (
    "status",
    "test_accuracy",
    "best_val_accuracy",
    "final_val_accuracy",
    "time_to_target_steps",
    "steps",
    "params",
)
"""What a bitwise rerun must reproduce exactly, besides every point of the validation curve."""
CHECKED_STATUSES = ("ok", "diverged")
"""Runs with numbers to check; failed and timed-out runs measured nothing to compare."""


@dataclass(frozen=True)
class VerifyOutcome:
    """What :func:`benchbench.verify` found: one row per sampled run (``verdict`` is ``agrees``,
    ``differs`` or ``not rerun``; ``detail`` says what differs and by how much, or why the
    run was not rerun) and the source's size."""

    source: str
    rows: pd.DataFrame
    candidates: int

    @property
    def ok(self) -> bool:
        """Every sampled run was rerun and agreed."""
        return bool(len(self.rows)) and bool((self.rows["verdict"] == "agrees").all())

    def summary(self) -> str:
        """One line: how many agreed, differed and were not rerun."""
        counts = self.rows["verdict"].value_counts() if len(self.rows) else {}
        parts = [f"{counts.get(v, 0)} {v}" for v in ("agrees", "differs", "not rerun")]
        return (
            f"verified {len(self.rows)} of {self.candidates} runs of {self.source}: "
            + ", ".join(parts)
        )


@checked()
def verify(
    source: PathLike,
    *,
    sample: int | None = 3,
    seed: int = 0,
    any_code: bool = False,
    workers: int | None = None,
    timeout: float = 3600.0,
    plugins: Sequence[str] = (),
    data_dir: PathLike | None = None,
    progress: bool = True,
) -> VerifyOutcome:
    """Train runs of a result set again here and compare: ``source`` is an exported file
    (``leaderboards/default.jsonl.gz``), an SQLite file or a database URL. ``sample`` runs
    are drawn with ``seed`` from those that ended ok or diverged (``None``: every one).

    Each run trains with its own spec, numerics mode and recorded thread count, ``workers``
    at once (default: as many as this machine's cores hold at that thread count).
    ``any_code`` reruns runs made by other code than is installed here under the installed
    code, and says so in their rows.

    :raises ~benchbench.BenchbenchError: an unreadable source, or one without such runs.
    """
    from ..plugins.manager import load_plugins
    from ..storage.files import reading

    pm, console = load_plugins(plugins), Console(progress)
    with reading(Path("."), None, [str(source)]) as store:
        ids = sorted(store.run_ids(CHECKED_STATUSES))
        if not ids:
            raise BenchbenchError(f"{source} holds no runs that ended ok or diverged")
        chosen = ids if sample is None else random.Random(seed).sample(ids, min(sample, len(ids)))
        originals = {r.run_id: r for r in store.results(chosen)}
    rows: dict[str, dict[str, Any]] = {}
    todo: list[tuple[RunResult, RunSpec, str]] = []
    for run_id in chosen:
        original = originals[run_id]
        spec, why_not = _rerun_spec(original, pm.registry, any_code, optional_path(data_dir))
        if spec is None:
            rows[run_id] = _row(original, "not rerun", why_not)
        else:
            todo.append((original, spec, why_not))
    notes = {original.run_id: note for original, _, note in todo}
    with console.bar(len(todo), "run") as bar:
        for original, rerun in _rerun(todo, pm.config, optional_path(data_dir), workers, timeout):
            rows[original.run_id] = _compare(original, rerun, notes[original.run_id])
            bar.update()
    frame = pd.DataFrame([rows[i] for i in chosen])
    return VerifyOutcome(str(source), frame, len(ids))


def _rerun_spec(
    original: RunResult, registry: Any, any_code: bool, data_dir: Path | None
) -> tuple[RunSpec | None, str]:
    """The spec to train again (None: not rerun) and a note for its row."""
    from ..host.numerics import portable_here
    from ..identity import changes
    from ..planning.resolve import code_of, data_fingerprint

    spec = original.spec()
    names = {slot: getattr(spec, slot) for slot in KIND_NAMES}
    try:
        now = code_of(registry, names, spec.hparams)
        task_cls = registry.get("task", spec.task)
    except BenchbenchError as exc:
        return None, f"cannot rerun here: {exc}"
    if spec.device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            return None, "a CUDA run, and this machine has no GPU"
    if spec.numerics == "portable" and not portable_here():
        return None, "a portable run, and this CPU cannot compute portable numerics"
    if data_fingerprint(task_cls, spec.hparams, data_dir) != spec.data:
        return None, "the task's data here differs from the run's (another data fingerprint)"
    differ = changes(spec.code, now) if spec.code else []
    if differ and not any_code:
        return None, "made by other code: " + "; ".join(differ) + _install_hint(spec.code)
    if differ:
        return replace(spec, code=now), f"rerun under the installed code ({flag('any_code')})"
    return spec, ""


def _install_hint(code: dict[str, str] | Any) -> str:
    """How to install the released versions a run's code identity names."""
    released = sorted(
        {o.replace(" ", "==") for o in code.values() if "+src." not in o and " " in o}
    )
    if not released:
        return " (unreleased code: check out the commit that made it)"
    return f" (pip install {' '.join(released)}, or pass {flag('any_code')})"


def _rerun(
    todo: list[tuple[RunResult, RunSpec, str]],
    config: Any,
    data_dir: Path | None,
    workers: int | None,
    timeout: float,
) -> Iterator[tuple[RunResult, RunResult]]:
    """Each run trained again in worker processes started in its numerics mode, with its
    recorded thread count; ``(original, rerun)`` as they finish."""
    from ..executors import ProcessPoolExecutor
    from ..host.cpus import owned_cores
    from ..host.numerics import current, select

    groups: dict[tuple[str, int], list[tuple[RunResult, RunSpec]]] = {}
    for original, spec, _ in todo:
        threads = int((original.machine or {}).get("threads") or owned_cores())
        groups.setdefault((spec.numerics or "native", threads), []).append((original, spec))
    before = current()
    try:
        for (mode, threads), group in groups.items():
            select(mode)
            slots = workers or max(1, owned_cores() // threads)
            by_id = {spec.run_id: original for original, spec in group}
            with ProcessPoolExecutor(config, data_dir, slots, timeout, threads) as pool:
                for result in pool.run([spec for _, spec in group]):
                    yield by_id[result.run_id], result
    finally:
        select(before)


def _curve(result: RunResult) -> list[float]:
    return [p.get("val_accuracy") for p in result.curve]


def _compare(original: RunResult, rerun: RunResult, note: str) -> dict[str, Any]:
    """The row of one rerun: agrees or differs (which fields, by how much)."""
    exact = original.numerics == "portable" and not original.device.startswith("cuda")
    differ = []
    for name in EXACT_FIELDS:
        old, new = getattr(original, name), getattr(rerun, name)
        if old == new:
            continue
        judged = exact or name in ("status", "params")
        if not judged and name in ("test_accuracy", "best_val_accuracy"):
            numbers = isinstance(old, float) and isinstance(new, float)
            judged = not numbers or abs(new - old) > TOLERANCE
        if judged:
            differ.append(_change(name, old, new))
    old_curve, new_curve = _curve(original), _curve(rerun)
    if exact and old_curve != new_curve:
        points = sum(a != b for a, b in zip(old_curve, new_curve, strict=False))
        points += abs(len(old_curve) - len(new_curve))
        differ.append(f"validation curve ({points} of {len(old_curve)} points)")
    row = _row(original, "differs" if differ else "agrees", "; ".join(differ))
    if note:
        row["detail"] = "; ".join(p for p in (row["detail"], note) if p)
    row["rerun_test_accuracy"] = rerun.test_accuracy
    row["rerun_train_seconds"] = rerun.train_seconds
    row["judged"] = "exactly" if exact else f"within {TOLERANCE}"
    return row


def _change(name: str, old: Any, new: Any) -> str:
    if isinstance(old, float) and isinstance(new, float):
        return f"{name} {old:.4g} -> {new:.4g} ({new - old:+.4g})"
    return f"{name} {old} -> {new}"


def _row(original: RunResult, verdict: str, detail: str) -> dict[str, Any]:
    return {
        "run_id": original.run_id,
        "run": f"{original.task}/{original.arch}/{original.regularizer}/{original.ssl}/"
        f"{original.finetune} seed {original.seed}",
        "numerics": original.numerics or "unrecorded",
        "verdict": verdict,
        "test_accuracy": original.test_accuracy,
        "rerun_test_accuracy": None,
        "train_seconds": original.train_seconds,
        "rerun_train_seconds": None,
        "judged": None,
        "detail": detail,
    }
