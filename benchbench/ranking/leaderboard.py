"""A leaderboard as people read it: Markdown or plain tables per suite, track and task under
the provenance of their runs and the code behind them, or CSV and JSON with every column.
The ranking itself is :mod:`.rank`."""

from __future__ import annotations

import html
import json
import textwrap
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
from tabulate import tabulate

from ..arguments import checked, choice
from ..paths import DEFAULT_OUT, PathLike
from ..spec import RunResult
from .rank import GROUP, RULE, build_groups, missing

FORMATS = ("markdown", "plain", "csv", "json")


@dataclass
class Ranked:
    """One suite's stored places (every suite's when its key is None) ranked once, with
    their tuning, to be rendered in as many formats as wanted. The ranking is aggregated in
    the database (:meth:`Store.groups <benchbench.storage.places.Places.groups>`): no
    run's JSON is read, so a million runs rank in seconds."""

    store: Any
    key: str | None
    board: pd.DataFrame
    groups: pd.DataFrame
    _heading: tuple[str, list[str]] | None = None

    @classmethod
    def read(cls, store: Any, key: str | None) -> Ranked:
        """The places of suite ``key`` in ``store`` (a :class:`~benchbench.storage.store.Store`),
        ranked."""
        groups = store.groups(key)
        return cls(store, key, build_groups(groups, store.tunings(key)), groups)

    def text(self, fmt: str, columns: Sequence[str], title: str = "") -> str:
        """The leaderboard in ``fmt`` showing ``columns``; in Markdown or plain text, a title
        and the provenance line of its runs above the tables and their code below."""
        rendered = render(self.board, fmt, columns)
        if fmt in ("csv", "json") or self.board.empty:
            return rendered
        if self._heading is None:  # read once: what every run was made with
            keys = [self.key] if self.key is not None else self.store.suites()
            contexts, codes = [], []
            for key in keys:
                mine = self.groups[self.groups["suite"] == key] if len(self.groups) else None
                found = self.store.place_summary(key, mine)
                contexts += found[0]
                codes += found[1]
            self._heading = (origin_line(contexts), codes_seen(codes))
        origin, seen = self._heading
        heading = f"# {markdown_text(title)}" if fmt == "markdown" and title else title
        code = code_note(seen, fmt)
        if fmt == "markdown":
            origin, code = markdown_text(origin), markdown_text(code)
        parts = (heading, origin, rendered, code)
        return "\n\n".join(p.strip("\n") for p in parts if p) + "\n"


def codes_seen(found: list[tuple[str, int]]) -> list[str]:
    """Code identities as :func:`code_note` takes them: each once, except the places
    whose runs recorded none, once per place (it counts them)."""
    return [body for body, n in found for _ in range(n if body in ("{}", "") else 1)]


def origin_line(contexts: list[tuple[str, int]]) -> str:
    """:func:`provenance` from provenance contexts (JSON) and the runs each produced."""
    runs = sum(n for _, n in contexts)
    if not runs:
        return "No results."
    parsed = [json.loads(body) for body, _ in contexts]

    def values(key: str) -> str:
        return ", ".join(sorted({str(c.get(key)) for c in parsed}))

    plugins = sorted(
        {
            f"{p['plugin']} ({p['distribution']} {p['version']})"
            if p["distribution"]
            else f"{p['plugin']} (-p)"
            for c in parsed
            for p in c.get("plugins") or []
        }
    )
    return (
        f"{runs} runs by benchbench {values('benchbench')}, torch {values('torch')}, "
        f"on {values('device')} ({values('device_name')}, {values('torch_threads')} threads) "
        f"of {values('host')}; plugins: {', '.join(plugins)}."
    )


def text(store: Any, key: str | None, fmt: str, columns: Sequence[str], title: str = "") -> str:
    """One suite's leaderboard (every suite's when ``key`` is None) in ``fmt``: see
    :meth:`Ranked.text`."""
    return Ranked.read(store, key).text(fmt, columns, title)


def markdown_text(text: str) -> str:
    """Text from plugins, suite files and imported result sets as Markdown shows it
    literally: HTML escaped (GitHub and documentation sites render Markdown as HTML, so a
    label holding ``<script>`` must not become one) and table pipes escaped."""
    return html.escape(text, quote=False).replace("|", "\\|")


def code_note(codes: Iterable[str], fmt: str = "markdown") -> str:
    """What every component of the runs ran from (their code identities, as JSON): one
    line per origin with the components it supplied, so each number can be traced to a
    distribution and version (or a source fingerprint, :mod:`benchbench.identity`)."""
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
    """One line saying what produced the results: benchbench, torch, device, plugins, host
    (:func:`origin_line` of their provenance contexts)."""
    from ..storage.schema import CONTEXT

    contexts = [
        (json.dumps({k: r.provenance.get(k) for k in CONTEXT}, sort_keys=True), 1) for r in results
    ]
    return origin_line(contexts)


def percent(value: float | None, ci: float | None = None, signed: bool = False) -> str:
    """A fraction as points (``97.50``, ``+1.20``), with ``± ci`` when given; ``-`` if none."""
    if value is None or pd.isna(value):
        return "-"
    text = f"{value * 100:+.2f}" if signed else f"{value * 100:.2f}"
    if ci is not None and not pd.isna(ci):
        text += f" ± {ci * 100:.2f}"
    return text


def _number(value: float | None, scale: float, spec: str) -> str:
    return "-" if missing(value) else format(value * scale, spec)


def _params(value: str | None) -> str:
    """Tuned hyperparameters as ``name=value`` pairs, numbers to 3 significant digits."""
    if missing(value):
        return "-"
    pairs = json.loads(value).items()
    return " ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in pairs)


def _n(row: pd.Series) -> int:
    """Seeds with an accuracy (ok or diverged): the n of the row's interval."""
    return int(row["ok"]) + int(row["diverged"])


def _accuracy(row: pd.Series) -> str:
    return _with_n(percent(row["test_accuracy_mean"], row["test_accuracy_ci95"]), _n(row))


def _delta(row: pd.Series) -> str:
    if row["baseline"] and not missing(row["delta_vs_baseline"]):
        return "+0.00"
    n = row.get("delta_n")
    text = percent(row["delta_vs_baseline"], row["delta_ci95"], signed=True)
    return _with_n(text, _n(row) if missing(n) else int(n))


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
    if missing(row["time_to_target_s"]):
        return f"never {reached}"
    return f"{row['time_to_target_s']:.2f}{_busy(row)} {reached}"


def _busy(row: pd.Series) -> str:
    """``*`` on a time measured on shared hardware (beside other runs or busy processes)."""
    return "*" if not missing(row.get("busy")) and row["busy"] > 0 else ""


def _timed(key: str, spec: str) -> Callable[[pd.Series], str]:
    def show(row: pd.Series) -> str:
        return "-" if missing(row[key]) else f"{row[key]:{spec}}{_busy(row)}"

    return show


def seeds_text(row: pd.Series) -> str:
    """How a row's seeds ended: ``2/3: 1 diverged``."""
    text = f"{int(row['ok'])}/{int(row['seeds'])}"
    others = [f"{int(row[k])} {k}" for k in ("diverged", "failed") if row[k]]
    return text + (f": {', '.join(others)}" if others else "")


def _tuning(row: pd.Series) -> str:
    n = row["tuning_trials"]
    if missing(n):
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
    Column("rank", "rank", "", lambda r: "-" if missing(r["rank"]) else str(int(r["rank"]))),
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
    Column(
        "time-rank",
        "t-rank",
        "t-rank: rank by time to target (faster first; never reaching it, or a seed that did "
        "not end ok, last)",
        lambda r: "-" if missing(r["time_rank"]) else str(int(r["time_rank"])),
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
            if missing(r["data_wait_fraction"])
            else f"{percent(r['data_wait_fraction'])}% {r['loader_verdict'] or ''}".strip()
        ),
    ),
    Column(
        "params",
        "params",
        "",
        lambda r: "-" if missing(r["params"]) else f"{int(r['params']):,}",
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
            if missing(r["latency_batch1_ms"])
            else f"{r['latency_batch1_ms']:.2f}{_busy(r)} / "
            + _number(r["latency_batch1024_ms"], 1, ".1f")
        ),
    ),
    Column(
        "memory",
        "peak MB",
        "peak MB: the most GPU memory the run's tensors held at once (CUDA runs)",
        lambda r: _number(r["peak_memory_mb"], 1, ",.0f"),
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
"""Every column a table can show, in order: ``--columns`` names them by key."""
NARROW = ("rank", "candidate", "acc", "delta", "ttt", "time-rank", "tuning", "seeds")
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
        heading = f"### {markdown_text(title)}" if fmt == "markdown" else title
        cells = {c.key: [c.show(row) for _, row in group.iterrows()] for c in chosen}
        if fmt == "markdown":
            cells = {k: [markdown_text(v) for v in values] for k, values in cells.items()}
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


@checked()
def leaderboard(
    suite: str | None = None,
    *,
    out: PathLike = DEFAULT_OUT,
    storage: str | None = None,
    sources: Sequence[str] = (),
) -> pd.DataFrame:
    """The ranked leaderboard of stored results: one row per suite, track, task and
    candidate (every suite's when ``suite`` is None), the rows of
    ``benchbench leaderboard --format json``: mean test accuracy with its 95% interval over
    seeds, the change against the track's baseline with its interval, time-to-target,
    throughput, calibration, size, latency, tuning and provenance columns.

    ``sources`` builds it from exported result files or other databases instead.
    """
    from ..storage.files import reading

    with reading(out, storage, sources) as store:
        key = store.find_suite(suite) if suite else None
        return build_groups(store.groups(key), store.tunings(key))


@checked(format=choice(FORMATS))
def leaderboard_text(
    suite: str | None = None,
    *,
    format: str = "plain",
    columns: Sequence[str] | None = None,
    wide: bool = False,
    out: PathLike = DEFAULT_OUT,
    storage: str | None = None,
    sources: Sequence[str] = (),
) -> str:
    """The leaderboard as ``benchbench leaderboard`` prints it: ``plain`` or ``markdown``
    tables per track and task under the runs' provenance, or ``csv`` or ``json``.
    ``columns`` are the keys of the columns to show (see ``benchbench leaderboard --help``;
    default: the terminal's narrow set, or every column with ``wide``); files always have
    every column."""
    from ..storage.files import reading

    shown = column_keys(",".join(columns)) if columns else (WIDE if wide else NARROW)
    with reading(out, storage, sources) as store:
        key = store.find_suite(suite) if suite else None
        return text(store, key, format, shown)
