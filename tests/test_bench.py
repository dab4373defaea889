"""Every script of ``bench/`` runs in its smoke mode (``--smoke``: the smallest settings), so
a change that breaks a benchmark fails CI rather than the next person who measures. The
figures of a smoke run mean nothing and are not checked; that the script ends with exit
status 0 and prints its table is. End to end (``-m e2e``): a few minutes in all."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
BENCH = ROOT / "bench"
HELPERS = {"smoke.py", "fake_cifar.py"}  # imported by the scripts, not run
SCRIPTS = sorted(p.name for p in BENCH.glob("*.py") if p.name not in HELPERS)


def test_every_script_takes_smoke():
    assert len(SCRIPTS) >= 12
    for name in SCRIPTS:
        text = (BENCH / name).read_text()
        assert "from smoke import parse" in text and re.search(r"parse\(\s*parser", text), name


@pytest.mark.e2e
@pytest.mark.parametrize("name", SCRIPTS)
def test_a_bench_script_runs_in_its_smoke_mode(name, tmp_path, data_dir):
    args: list[str] = []
    env = {**os.environ, "BENCHBENCH_DATA": str(data_dir), "OMP_NUM_THREADS": "1"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "tests"), env.get("PYTHONPATH", "")])
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    if name == "report_time.py":  # it times reports of a results database: the published one
        out = tmp_path / "out"
        subprocess.run(
            [sys.executable, "-m", "benchbench", "import", str(ROOT / "leaderboards" / "default.jsonl.gz"),
             "--out", str(out)],
            check=True, capture_output=True, env=env,
        )  # fmt: skip
        args = ["--out", str(out)]
    done = subprocess.run(
        [sys.executable, str(BENCH / name), "--smoke", *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=600,
    )
    assert done.returncode == 0, f"{name}:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    assert done.stdout.strip(), f"{name} printed nothing"
