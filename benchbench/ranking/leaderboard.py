"""Ranking runs into leaderboards (pandas) and rendering them (tabulate, CSV, JSON).

One row per suite, track, task and candidate: mean test accuracy over its seeds with a 95%
Student-t interval; the change against the track's baseline with a 95% Welch interval, so a
reader can tell a real difference from seed noise; median time-to-target; throughput,
data-wait share and verdict; parameters.

Seeds that did not end ok count against their candidate (:data:`RULE`): a diverged seed
enters the mean as chance accuracy and its time-to-target as never, as AlgoPerf counts a
missed target as a failure rather than a missing value; a failed or timed-out seed has no
accuracy, so it is left out of the mean, and a row with any such seed (or any diverged one)
ranks below every row whose seeds all ended ok. Within each group, rows rank by mean test
accuracy.
"""

from __future__ import annotations

import json
import math
import textwrap
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from tabulate import tabulate

from ..running.identity import digest
from ..spec import KIND_NAMES, RunResult
from ..training.profiling import INPUT_BOUND_FRACTION

RULE = (
    "a seed that diverged counts as chance accuracy (1/classes) and never reaches the target; "
    "a failed or timed-out seed is left out of the mean; a row with any seed that did not "
    "end ok ranks below every row whose seeds all did"
)
GROUP = ["suite", "track", "task"]
COLUMNS = [
    "suite",
    "track",
    "task",
    "candidate",
    "rank",
    "seeds",
    "ok",
    "diverged",
    "failed",
    "complete",
    "test_accuracy_mean",
    "test_accuracy_ci95",
    "delta_vs_baseline",
    "delta_ci95",
    "delta_n",
    "test_ece_mean",
    "time_to_target_s",
    "reached_target",
    "train_seconds",
    "samples_per_s",
    "data_wait_fraction",
    "loader_verdict",
    "params",
    "model_bytes",
    "latency_batch1_ms",
    "latency_batch1024_ms",
    "source_train_seconds",
    "busy",
    "tuning_trials",
    "tuning_pruned",
    "tuning_seconds",
    "val_spread",
    "tuned_params",
    "baseline",
    "suite_name",
    "benchbench_version",
    "task_origin",
    "arch_origin",
    "regularizer_origin",
    "ssl_origin",
    "finetune_origin",
    "variant",
]
FORMATS = ("markdown", "plain", "csv", "json")


def ci95(values: Sequence[float]) -> float | None:
    """Half-width of the 95% Student-t interval of the mean; ``None`` below two values."""
    from scipy import stats  # slow import: only when ranking

    values = np.asarray(values, dtype=float)
    n = len(values)
    if n < 2:
        return None
    return float(stats.t.ppf(0.975, n - 1) * values.std(ddof=1) / math.sqrt(n))


def welch_ci95(a: Sequence[float], b: Sequence[float]) -> float | None:
    """Half-width of the 95% Welch interval of ``mean(a) - mean(b)``; ``None`` if either has
    fewer than two values. Zero spread in both gives zero."""
    from scipy import stats

    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(a) < 2 or len(b) < 2:
        return None
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    if va + vb == 0:
        return 0.0
    dof = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    return float(stats.t.ppf(0.975, dof) * math.sqrt(va + vb))


def _mean(runs: pd.DataFrame, column: str) -> float | None:
    """Mean of a column over runs, ``None`` when absent or empty (older results lack it)."""
    if column not in runs or runs[column].isna().all():
        return None
    return float(runs[column].mean())


def _summarise(runs: pd.DataFrame) -> pd.Series:
    ok = runs[runs["status"] == "ok"]
    diverged = runs[runs["status"] == "diverged"]
    chance = (
        diverged["chance_accuracy"].dropna()
        if "chance_accuracy" in diverged
        else pd.Series(dtype=float)
    )
    accuracy = pd.concat([ok["test_accuracy"].dropna(), chance], ignore_index=True)
    # every seed that ended (ok or diverged) has a time-to-target; never = infinity
    times = pd.concat(
        [
            ok["time_to_target_s"].astype(float).fillna(math.inf),
            pd.Series(math.inf, index=diverged.index),
        ]
    )
    median_time = float(times.median()) if len(times) else math.inf
    wait = ok["data_wait_fraction"].dropna()
    return pd.Series(
        {
            "seeds": len(runs),
            "ok": len(ok),
            "diverged": len(diverged),
            "failed": len(runs) - len(ok) - len(diverged),
            "complete": len(ok) == len(runs),
            "test_accuracy_mean": float(accuracy.mean()) if len(accuracy) else None,
            "test_accuracy_ci95": ci95(accuracy),
            "test_ece_mean": _mean(ok, "test_ece"),
            "time_to_target_s": median_time if math.isfinite(median_time) else None,
            "reached_target": int(np.isfinite(times).sum()),
            "train_seconds": ok["train_seconds"].mean() if len(ok) else None,
            "samples_per_s": ok["samples_per_s"].mean() if len(ok) else None,
            "data_wait_fraction": wait.mean() if len(wait) else None,
            "params": int(runs["params"].dropna().median())
            if runs["params"].notna().any()
            else None,
            "model_bytes": _mean(ok, "model_bytes"),
            "latency_batch1_ms": _mean(ok, "latency_batch1_ms"),
            "latency_batch1024_ms": _mean(ok, "latency_batch1024_ms"),
            "source_train_seconds": _mean(ok, "source_train_seconds"),
            "busy": int((ok["busy"] == True).sum()) if "busy" in ok else None,  # noqa: E712
            "baseline": bool(runs["baseline"].any()),
            "_accuracies": accuracy.tolist(),
            **origins(runs["code"].iloc[0] if "code" in runs else None),
        }
    )


def origins(code_json: str | None) -> dict[str, str | None]:
    """A run's code identity (JSON, as :meth:`Store.frame` gives it) as leaderboard columns:
    ``benchbench_version`` and, per slot, ``name: origin`` of each component in it."""
    code = json.loads(code_json) if isinstance(code_json, str) and code_json else {}
    columns: dict[str, str | None] = {"benchbench_version": code.get("benchbench")}
    for slot in KIND_NAMES:
        found = [f"{k.partition(':')[2]}: {v}" for k, v in code.items() if k.startswith(slot + ":")]
        columns[f"{slot}_origin"] = ", ".join(found) or None
    return columns


def _variants(frame: pd.DataFrame) -> list[str]:
    """Per run, a hash of what besides its spec's settings decides its numbers: its code,
    device and data. Seeds of one candidate are averaged only within one variant."""
    fields = [frame.get(k, pd.Series(None, index=frame.index)) for k in ("code", "device", "data")]
    return [digest([c, d, None if _missing(x) else x]) for c, d, x in zip(*fields, strict=True)]


def _label_variants(rows: pd.DataFrame) -> pd.DataFrame:
    """A candidate whose runs came from more than one variant (results merged from machines
    with other code or devices) gets a row per variant, each named by what sets it apart."""
    keys = [*GROUP, "candidate"]
    said = [f"{s}_origin" for s in KIND_NAMES]
    labels = {}
    for _, same in rows.groupby(keys, sort=False):
        if same["variant"].nunique() < 2:
            continue
        differ = [c for c in ("benchbench_version", *said) if same[c].nunique(dropna=False) > 1]
        for index, row in same.iterrows():
            parts = [str(row[c]) for c in differ] or [f"variant {row['variant']}"]
            labels[index] = f"{row['candidate']} [{'; '.join(parts)}]"
    for index, label in labels.items():
        rows.loc[index, "candidate"] = label
    return rows


def _with_tunings(rows: pd.DataFrame, tunings: pd.DataFrame | None) -> pd.DataFrame:
    """Add what tuning found and cost to each row (from :meth:`Store.tunings`); rows of an
    untuned suite get nothing, untuned rows of a tuned suite 0 trials (defaults)."""
    keys = [*GROUP, "candidate"]
    names = {
        "trials": "tuning_trials",
        "pruned": "tuning_pruned",
        "tuning_seconds": "tuning_seconds",
        "val_spread": "val_spread",
        "best_params": "tuned_params",
    }
    if tunings is None or tunings.empty:
        for column in names.values():
            rows[column] = None
        return rows
    found = tunings[[*keys, *names]].rename(columns=names)
    found["tuned_params"] = found["tuned_params"].map(lambda p: json.dumps(p, sort_keys=True))
    rows = rows.merge(found, on=keys, how="left")
    tuned_suites = set(tunings["suite"])
    untuned = rows["tuning_trials"].isna() & rows["suite"].isin(tuned_suites)
    rows.loc[untuned, "tuning_trials"] = 0
    return rows


def build(
    frame: pd.DataFrame, tunings: pd.DataFrame | None = None, keep_accuracies: bool = False
) -> pd.DataFrame:
    """The ranked leaderboard from :meth:`Store.frame` rows (one per suite place), with the
    tuning of each place from :meth:`Store.tunings` where given; ``keep_accuracies`` keeps
    each row's accuracies per seed (``_accuracies``) for comparisons."""
    if frame.empty:
        return pd.DataFrame(columns=[*COLUMNS, "_accuracies"] if keep_accuracies else COLUMNS)
    if "suite_name" not in frame:
        frame = frame.assign(suite_name=frame["suite"])
    frame = frame.assign(variant=_variants(frame))
    rows = (
        frame.groupby([*GROUP, "suite_name", "candidate", "variant"], sort=False)
        .apply(_summarise, include_groups=False)
        .reset_index()
    )
    deltas, delta_cis, delta_ns = [], [], []
    for _, row in rows.iterrows():
        same = rows[(rows[GROUP] == row[GROUP]).all(axis=1)]
        base = same[same["baseline"]]
        if (
            base.empty
            or row["test_accuracy_mean"] is None
            or base.iloc[0]["test_accuracy_mean"] is None
        ):
            deltas.append(None)
            delta_cis.append(None)
            delta_ns.append(None)
            continue
        base = base.iloc[0]
        delta_ns.append(min(len(row["_accuracies"]), len(base["_accuracies"])))
        deltas.append(row["test_accuracy_mean"] - base["test_accuracy_mean"])
        delta_cis.append(
            None if row["baseline"] else welch_ci95(row["_accuracies"], base["_accuracies"])
        )
    rows = _label_variants(_with_tunings(rows, tunings))
    rows["delta_vs_baseline"] = deltas
    rows["delta_ci95"] = delta_cis
    rows["delta_n"] = pd.array(delta_ns, dtype="Int64")
    rows["loader_verdict"] = [
        None
        if f is None or pd.isna(f)
        else ("input-bound" if f > INPUT_BOUND_FRACTION else "compute-bound")
        for f in rows["data_wait_fraction"]
    ]
    # accuracies lie in [0, 1]: + 2 puts every complete row above every incomplete one
    score = pd.to_numeric(rows["test_accuracy_mean"], errors="coerce") + 2 * rows["complete"]
    rows["rank"] = score.groupby([rows[g] for g in GROUP]).rank(ascending=False, method="min")
    rows["rank"] = rows["rank"].astype("Int64")
    rows = rows.sort_values([*GROUP, "rank"], kind="stable", na_position="last")
    kept = [*COLUMNS, "_accuracies"] if keep_accuracies else COLUMNS
    return rows[kept].reset_index(drop=True)


def text(store: Any, key: str | None, fmt: str, columns: Sequence[str], title: str = "") -> str:
    """One suite's leaderboard from a :class:`~benchbench.storage.store.Store` (every suite's when
    ``key`` is None) with its tuning; in Markdown or plain text, a title and the provenance
    line of its runs above the tables."""
    frame = store.frame(key)
    rendered = render(build(frame, store.tunings(key)), fmt, columns)
    if fmt in ("csv", "json") or frame.empty:
        return rendered
    origin = provenance(store.results(set(frame["run_id"])))
    heading = f"# {title}" if fmt == "markdown" and title else title
    code = code_note(frame.get("code", ()), fmt)
    return "\n\n".join(p.strip("\n") for p in (heading, origin, rendered, code) if p) + "\n"


def code_note(codes: Iterable[str], fmt: str = "markdown") -> str:
    """What every component of the runs ran from (their code identities, as JSON): one
    line per origin with the components it supplied, so each number can be traced to a
    distribution and version (or a source fingerprint, :mod:`benchbench.running.identity`)."""
    supplied: dict[str, set[str]] = {}
    unrecorded = 0
    for text in codes:
        code = json.loads(text) if text else {}
        unrecorded += not code
        for key, origin in code.items():
            supplied.setdefault(origin, set()).add(key.replace(":", " ") if ":" in key else "core")
    lines = [f"{origin}: {', '.join(sorted(keys))}" for origin, keys in sorted(supplied.items())]
    if unrecorded:
        lines.append(f"{unrecorded} runs recorded no code identity (stored by an older benchbench)")
    if not lines:
        return ""
    title = "Code each component ran from (part of every run id):"
    if fmt == "markdown":
        return "\n".join([title, "", *[f"- {line}" for line in lines]])
    return "\n".join(
        [
            title,
            *[
                textwrap.fill(line, 100, initial_indent="  ", subsequent_indent="    ")
                for line in lines
            ],
        ]
    )


def provenance(results: Sequence[RunResult]) -> str:
    """One line saying what produced the results: benchbench, torch, device, plugins, host."""
    if not results:
        return "No results."

    def values(key: str) -> str:
        return ", ".join(sorted({str(r.provenance.get(key)) for r in results}))

    plugins = sorted(
        {
            f"{p['plugin']} ({p['distribution']} {p['version']})"
            if p["distribution"]
            else f"{p['plugin']} (-p)"
            for r in results
            for p in r.provenance.get("plugins", [])
        }
    )
    return (
        f"{len(results)} runs by benchbench {values('benchbench')}, torch {values('torch')}, "
        f"on {values('device')} ({values('device_name')}, {values('torch_threads')} threads) "
        f"of {values('host')}; plugins: {', '.join(plugins)}."
    )


def percent(value: float | None, ci: float | None = None, signed: bool = False) -> str:
    """A fraction as points (``97.50``, ``+1.20``), with ``± ci`` when given; ``-`` if none."""
    if value is None or pd.isna(value):
        return "-"
    text = f"{value * 100:+.2f}" if signed else f"{value * 100:.2f}"
    if ci is not None and not pd.isna(ci):
        text += f" ± {ci * 100:.2f}"
    return text


def _missing(value: object) -> bool:
    return value is None or bool(pd.isna(value))


def _number(value: float | None, scale: float, spec: str) -> str:
    return "-" if _missing(value) else format(value * scale, spec)


def _params(value: str | None) -> str:
    """Tuned hyperparameters as ``name=value`` pairs, numbers to 3 significant digits."""
    if _missing(value):
        return "-"
    pairs = json.loads(value).items()
    return " ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in pairs)


def _n(row: pd.Series) -> int:
    """Seeds with an accuracy (ok or diverged): the n of the row's interval."""
    return int(row["ok"]) + int(row["diverged"])


def _accuracy(row: pd.Series) -> str:
    return _with_n(percent(row["test_accuracy_mean"], row["test_accuracy_ci95"]), _n(row))


def _delta(row: pd.Series) -> str:
    if row["baseline"] and not _missing(row["delta_vs_baseline"]):
        return "+0.00"
    n = row.get("delta_n")
    text = percent(row["delta_vs_baseline"], row["delta_ci95"], signed=True)
    return _with_n(text, _n(row) if _missing(n) else int(n))


def _with_n(text: str, n: int) -> str:
    """Below :data:`MIN_SEEDS` seeds an interval says little (two equal seeds give ± 0.00):
    it is left out and n is shown instead."""
    if text == "-" or n >= MIN_SEEDS:
        return text
    return f"{text.split(' ± ')[0]} (n={n})"


def time_to_target(row: pd.Series) -> str:
    """A row's median time-to-target with the seeds that reached it: ``0.54 (3/3)``."""
    ended = int(row["seeds"]) - int(row["failed"])
    if not ended:
        return "-"
    reached = f"({int(row['reached_target'])}/{ended})"
    if _missing(row["time_to_target_s"]):
        return f"never {reached}"
    return f"{row['time_to_target_s']:.2f}{_busy(row)} {reached}"


def _busy(row: pd.Series) -> str:
    """``*`` on a time measured on shared hardware (beside other runs or busy processes)."""
    return "*" if not _missing(row.get("busy")) and row["busy"] > 0 else ""


def _timed(key: str, spec: str) -> Callable[[pd.Series], str]:
    def show(row: pd.Series) -> str:
        return "-" if _missing(row[key]) else f"{row[key]:{spec}}{_busy(row)}"

    return show


def seeds_text(row: pd.Series) -> str:
    """How a row's seeds ended: ``2/3: 1 diverged``."""
    text = f"{int(row['ok'])}/{int(row['seeds'])}"
    others = [f"{int(row[k])} {k}" for k in ("diverged", "failed") if row[k]]
    return text + (f": {', '.join(others)}" if others else "")


def _tuning(row: pd.Series) -> str:
    n = row["tuning_trials"]
    if _missing(n):
        return "-"
    if n == 0:
        return "defaults"
    return f"{int(n)} ({int(row['tuning_pruned'])}), {row['tuning_seconds']:.0f}"


@dataclass(frozen=True)
class Column:
    """A column of the rendered tables: its key for ``--columns``, header, what the
    footnote says of it, and how a row shows in it."""

    key: str
    header: str
    note: str
    show: Callable[[pd.Series], str]


COLUMNS_SHOWN = (
    Column("rank", "rank", "", lambda r: "-" if _missing(r["rank"]) else str(int(r["rank"]))),
    Column(
        "candidate",
        "candidate",
        "",
        lambda r: r["candidate"] + (" (baseline)" if r["baseline"] else ""),
    ),
    Column(
        "acc",
        "test acc %",
        "test acc: mean over seeds ± 95% t-interval ((n=K): fewer than 3 seeds, no interval)",
        _accuracy,
    ),
    Column(
        "delta",
        "Δ pp",
        "Δ: difference of means against the track's baseline, in points, ± 95% Welch interval",
        _delta,
    ),
    Column(
        "ece",
        "ECE %",
        "ECE: expected calibration error on the test split (15 bins)",
        lambda r: percent(r["test_ece_mean"]),
    ),
    Column(
        "ttt",
        "to target s (hit)",
        "to target: median training seconds to the task's target validation accuracy, a seed "
        "that missed it counting as never, with the seeds that reached it",
        time_to_target,
    ),
    Column("train", "train s", "train s: mean training seconds", _timed("train_seconds", ".2f")),
    Column(
        "samples",
        "samples/s",
        "samples/s: training throughput",
        _timed("samples_per_s", ",.0f"),
    ),
    Column(
        "wait",
        "data wait",
        "data wait: share of training time spent waiting for batches, and the verdict",
        lambda r: (
            "-"
            if _missing(r["data_wait_fraction"])
            else f"{percent(r['data_wait_fraction'])}% {r['loader_verdict'] or ''}".strip()
        ),
    ),
    Column(
        "params",
        "params",
        "",
        lambda r: "-" if _missing(r["params"]) else f"{int(r['params']):,}",
    ),
    Column(
        "size",
        "size MB",
        "size: the trained model's bytes",
        lambda r: _number(r["model_bytes"], 1e-6, ".2f"),
    ),
    Column(
        "latency",
        "latency ms b1 / b1024",
        "latency: inference milliseconds at batch 1 / 1024",
        lambda r: (
            "-"
            if _missing(r["latency_batch1_ms"])
            else f"{r['latency_batch1_ms']:.2f}{_busy(r)} / "
            + _number(r["latency_batch1024_ms"], 1, ".1f")
        ),
    ),
    Column(
        "source",
        "source s",
        "source s: training seconds of the cached source model a transfer run starts from, "
        "not charged to it",
        lambda r: _number(r["source_train_seconds"], 1, ".1f"),
    ),
    Column(
        "tuning",
        "tuning trials (pruned), s",
        "tuning: trials on the validation split (pruned among them) and their seconds; "
        "defaults: not tuned",
        _tuning,
    ),
    Column(
        "spread",
        "val spread pp",
        "val spread: standard deviation of validation accuracy over complete trials",
        lambda r: _number(r["val_spread"], 100, ".2f"),
    ),
    Column(
        "hparams",
        "hparams",
        "hparams: the best hyperparameters, which every seed of the row ran with",
        lambda r: _params(r["tuned_params"]),
    ),
    Column("seeds", "seeds ok", f"seeds: {RULE}", seeds_text),
)
NARROW = ("rank", "candidate", "acc", "delta", "ttt", "train", "tuning", "seeds")
"""The terminal view: what decides a comparison; ``--wide`` shows every column."""
WIDE = tuple(c.key for c in COLUMNS_SHOWN)
MIN_SEEDS = 3


def column(key: str) -> Column:
    """The shown column with this key (see :data:`COLUMNS_SHOWN`)."""
    return next(c for c in COLUMNS_SHOWN if c.key == key)


def column_keys(text: str) -> tuple[str, ...]:
    """``--columns acc,latency``: rank and candidate, then the columns named, checked."""
    from ..errors import unknown_name

    keys = [k.strip() for k in text.split(",") if k.strip()]
    for key in keys:
        if key not in WIDE:
            raise unknown_name("leaderboard column", key, WIDE)
    return ("rank", "candidate", *[k for k in keys if k not in ("rank", "candidate")])


def render(board: pd.DataFrame, fmt: str = "markdown", columns: Sequence[str] = WIDE) -> str:
    """The leaderboard as Markdown or plain tables (one per suite, track and task) showing
    ``columns`` (keys of :data:`COLUMNS_SHOWN`; a column empty in every row is left out),
    with a footnote on the columns shown; or CSV or JSON, always with every column."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
    if fmt == "csv":
        return board.to_csv(index=False)
    if fmt == "json":
        records = json.loads(board.to_json(orient="records"))
        return json.dumps(records, indent=2)
    if board.empty:
        return "no results yet\n"
    chosen = [c for c in COLUMNS_SHOWN if c.key in columns]
    parts, shown_keys = [], set()
    table_format = "github" if fmt == "markdown" else "simple"
    names = board.get("suite_name", board["suite"])
    ambiguous = {n for n, keys in board.groupby(names)["suite"] if keys.nunique() > 1}
    for (suite, track, task), group in board.groupby(GROUP, sort=False):
        name = group["suite_name"].iloc[0] if "suite_name" in group else suite
        title = f"{suite if name in ambiguous else name} / {track} / {task}"
        heading = f"### {title}" if fmt == "markdown" else title
        cells = {c.key: [c.show(row) for _, row in group.iterrows()] for c in chosen}
        kept = [c for c in chosen if any(v != "-" for v in cells[c.key])]
        shown_keys.update(c.key for c in kept)
        table = tabulate(
            {c.header: cells[c.key] for c in kept},
            headers="keys",
            tablefmt=table_format,
            disable_numparse=True,
        )
        parts.append(f"{heading}\n\n{table}\n")
    notes = [c.note for c in chosen if c.key in shown_keys and c.note]
    if "busy" in board and (board["busy"].fillna(0) > 0).any():
        notes.append(
            "*: measured on shared hardware (some seeds ran beside other runs, or while other "
            "processes kept the machine busy): such times and latencies are not comparable"
        )
    hidden = [c.key for c in COLUMNS_SHOWN if c.key not in columns]
    if hidden and fmt == "plain":
        notes.append(f"more columns: --wide, or --columns {','.join(hidden)}")
    note = ". ".join(notes) + "."
    return "\n".join(parts) + "\n" + (textwrap.fill(note, 100) if fmt == "plain" else note) + "\n"
