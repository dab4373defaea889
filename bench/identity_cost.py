"""What recording the code behind every run costs.

In one fresh process (median of ``--repeats`` processes):

1. the code identity of every registered component, cold: each source fingerprint parsed and
   hashed (:mod:`benchbench.identity`), once per process;
2. planning the default suite (every spec resolved, its code identity included), after that;
3. with ``--db PATH``: finding the stored results made by other code for the default suite's
   runs (:meth:`Store.made_by_other_code`, what ``benchbench run`` says before training), and
   exporting and importing that database (:mod:`benchbench.storage.files`).

Run: ``python bench/identity_cost.py [--repeats 5] [--db benchbench.db]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

from smoke import parse

CHILD = """
import json, sys, tempfile, time
from pathlib import Path
t0 = time.perf_counter()
from benchbench.plugins import get_plugin_manager
from benchbench.identity import run_code
from benchbench.planning.suite import load_suite, plan
pm = get_plugin_manager()
registry = pm.registry
t1 = time.perf_counter()
run_code(registry, [(e.kind, e.name) for e in registry])
t2 = time.perf_counter()
planned = plan(load_suite("default", registry), registry)
t3 = time.perf_counter()
out = {"identity_cold_s": t2 - t1, "plan_default_s": t3 - t2, "specs": len(planned)}
db = sys.argv[1]
if db:
    from benchbench.storage.files import import_file, write
    from benchbench.storage.store import Store, default_url
    store = Store(f"sqlite:///{Path(db).resolve()}", writable=False)
    t4 = time.perf_counter()
    out["stale"] = len(store.made_by_other_code([p.spec for p in planned]))
    t5 = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        counts = write(store, Path(folder) / "all.jsonl.gz")
        t6 = time.perf_counter()
        (Path(folder) / "db").mkdir()
        import_file(Store(default_url(Path(folder) / "db")), Path(folder) / "all.jsonl.gz")
        t7 = time.perf_counter()
        size = (Path(folder) / "all.jsonl.gz").stat().st_size
    out.update(stale_check_s=t5 - t4, export_s=t6 - t5, import_s=t7 - t6,
               runs=counts["runs"], export_bytes=size)
print(json.dumps(out))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--db", default="")
    args = parse(parser, repeats=1)
    rows = [
        json.loads(
            subprocess.run(
                [sys.executable, "-c", CHILD, args.db], capture_output=True, text=True, check=True
            ).stdout
        )
        for _ in range(args.repeats)
    ]
    for key in rows[0]:
        value = statistics.median(row[key] for row in rows)
        print(f"{key:<18} {value:10.3f}" if isinstance(value, float) else f"{key:<18} {value:>10}")


if __name__ == "__main__":
    main()
