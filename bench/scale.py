"""How import, leaderboard and report scale with the number of stored runs.

Builds valid result sets of N runs from a real one (the published ``default`` set): every
run is copied under more seeds (seed + k * 1000), each copy with its own spec and so its own
run id, with the original's real curve and numbers, and every suite place is repeated for the
new seeds. Then, each in a fresh process as a user would run it, times

1. ``benchbench import SET --out DIR`` into an empty folder (runs per second),
2. ``benchbench leaderboard --out DIR --suite default --format csv``,
3. ``benchbench report default --out DIR`` (up to ``--report-max`` runs),

with each process's peak resident memory. ``--tracks N`` instead times the leaderboard of one
suite with N tracks (each the published architecture track's places on both tasks, over the
same stored runs), the case that grew with tracks rather than runs.

Run: ``python bench/scale.py [--sizes 10000,100000,1000000] [--keep DIR]``, or ``python
bench/scale.py --tracks 2000``; the sets and databases go to a temporary folder (about 5 GB
at a million runs) unless ``--keep``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from smoke import parse

SOURCE = Path(__file__).resolve().parents[1] / "leaderboards" / "default.jsonl.gz"


def build(source: Path, runs: int, to: Path) -> int:
    """A result set of ``runs`` runs (rounded up to whole copies of the source) at ``to``."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from benchbench.spec import RunResult

    with gzip.open(source, "rt") as lines:
        header, *rows = [json.loads(line) for line in lines]
    originals = [r["row"] for r in rows if r["table"] == "runs"]
    places = [r["row"] for r in rows if r["table"] == "places"]
    others = [r for r in rows if r["table"] in ("suites", "tunings")]
    copies = -(-runs // len(originals))
    written = 0
    with gzip.open(to, "wt", compresslevel=1) as out:
        out.write(json.dumps(header) + "\n")
        ids: list[dict[str, str]] = []
        for k in range(copies):
            renamed = {}
            for row in originals:
                result = dict(row["result"], seed=row["result"]["seed"] + 1000 * k)
                new_id = RunResult.from_dict(result).spec().run_id
                renamed[result["run_id"]] = new_id
                result["run_id"] = new_id
                line = {"row": {"created_at": row["created_at"], "result": result}, "table": "runs"}
                out.write(json.dumps(line, sort_keys=True) + "\n")
                written += 1
            ids.append(renamed)
        for other in others:
            out.write(json.dumps(other, sort_keys=True) + "\n")
        for k, renamed in enumerate(ids):
            for place in places:
                moved = dict(place, seed=place["seed"] + 1000 * k, run_id=renamed[place["run_id"]])
                out.write(json.dumps({"row": moved, "table": "places"}, sort_keys=True) + "\n")
    return written


def build_tracks(source: Path, tracks: int, out: Path) -> None:
    """A database in ``out`` holding the source's runs and a suite ``wide`` of ``tracks``
    tracks, each with the places of the source's architecture track."""
    out.mkdir(parents=True, exist_ok=True)
    subprocess.run(["benchbench", "import", str(source), "--out", str(out)], check=True)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from types import SimpleNamespace

    from benchbench.storage.store import Store

    store = Store(f"sqlite:///{out / 'benchbench.db'}")
    with gzip.open(source, "rt") as lines:
        rows = [json.loads(line) for line in lines][1:]
    places = [
        r["row"] for r in rows if r["table"] == "places" and r["row"]["track"] == "architectures"
    ]
    planned = [
        SimpleNamespace(
            track=f"track-{t:05d}", task=p["task"], candidate=p["candidate"], seed=p["seed"],
            baseline=p["baseline"], spec=SimpleNamespace(run_id=p["run_id"]),
        )
        for t in range(tracks)
        for p in places
    ]  # fmt: skip
    store.set_places("wide", "wide", "bench/scale.py", planned)


def timed(command: list[str]) -> tuple[float, float, int]:
    """Wall seconds, peak resident memory (MB) and exit status of ``command``."""
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode:
        sys.stderr.write(child.stderr.read().decode()[-500:] if child.stderr else "")
    return time.perf_counter() - started, usage.ru_maxrss / 1024, child.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--source", type=Path, default=SOURCE)
    parser.add_argument("--report-max", type=int, default=10_000_000)
    parser.add_argument("--keep", type=Path, help="Keep the sets and databases here.")
    parser.add_argument("--tracks", type=int, help="Time one suite of this many tracks.")
    args = parse(parser, sizes="1000")
    folder = args.keep or Path(tempfile.mkdtemp(prefix="benchbench-scale-"))
    folder.mkdir(parents=True, exist_ok=True)
    if args.tracks:
        build_tracks(args.source, args.tracks, folder / "wide")
        board = ["benchbench", "leaderboard", "--out", str(folder / "wide"), "--suite", "wide"]
        seconds, memory, status = timed(board)
        said = f"{seconds:.1f} s, {memory:,.0f} MB, exit status {status}"
        print(f"leaderboard of {args.tracks:,} tracks: {said}")
        return
    print("| stored runs | import | leaderboard | report |")
    print("|---|---|---|---|")
    for size in (int(s) for s in args.sizes.split(",")):
        path, counted = folder / f"set-{size}.jsonl.gz", folder / f"set-{size}.runs"
        if args.keep and counted.exists():  # built by an earlier call with --keep
            runs = int(counted.read_text())
        else:
            runs = build(args.source, size, path)
            counted.write_text(str(runs))
        out = folder / f"out-{size}"
        seconds, memory, status = timed(["benchbench", "import", str(path), "--out", str(out)])
        cells = [f"{seconds:.0f} s ({runs / seconds:,.0f} runs/s), {memory:,.0f} MB"]
        if status:
            cells[0] = f"failed ({status})"
        board = ["benchbench", "leaderboard", "--out", str(out), "--suite", "default"]
        seconds, memory, status = timed([*board, "--format", "csv"])
        cells.append(f"{seconds:.1f} s, {memory:,.0f} MB" if not status else f"failed ({status})")
        if runs <= args.report_max:
            report = ["benchbench", "report", "default", "--out", str(out)]
            seconds, memory, status = timed([*report, "--to", str(folder / f"r-{size}.html")])
            cells.append(
                f"{seconds:.0f} s, {memory:,.0f} MB" if not status else f"failed ({status})"
            )
        else:
            cells.append("not run")
        print(f"| {runs:,} | " + " | ".join(cells) + " |", flush=True)
        if args.keep is None:
            path.unlink()
            counted.unlink()
            for file in out.glob("*"):
                if file.is_file():
                    file.unlink()


if __name__ == "__main__":
    main()
