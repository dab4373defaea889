"""Worker processes never import the caller's ``__main__``: a script that calls the API at
module level, without an ``if __name__ == "__main__":`` guard, runs its body once and gets its
runs, whether Python reads it from a file, from ``-c`` or from standard input; a script that
imported torch first (so ``run_one`` trains in a fresh worker) runs its body once too."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

SCRIPT = """
import benchbench as bb
with open({marks!r}, "a") as marks:
    marks.write("body\\n")
outcome = bb.run({suite!r}, out={out!r}, progress=False)
print(outcome.summary())
"""


@pytest.fixture
def suite(tmp_path):
    path = tmp_path / "tiny.toml"
    path.write_text(
        "seeds = 2\nbudget = { steps = 10 }\n[[tracks]]\nname = 'a'\nkind = 'arch'\n"
        "candidates = ['mlp']\ntasks = ['digits']\n"
    )
    return path


@pytest.mark.parametrize(
    "how",
    [
        "file",
        pytest.param("-c", marks=pytest.mark.e2e),
        pytest.param("stdin", marks=pytest.mark.e2e),
    ],
)  # a file here; -c and standard input (no main module to import) with the end-to-end ones
def test_a_script_without_a_main_guard_runs_once_and_gets_its_runs(tmp_path, suite, how):
    marks, out = tmp_path / "marks.txt", tmp_path / "out"
    script = SCRIPT.format(marks=str(marks), suite=str(suite), out=str(out))
    if how == "file":
        (tmp_path / "script.py").write_text(script)
        command, stdin = [sys.executable, str(tmp_path / "script.py")], None
    elif how == "-c":
        command, stdin = [sys.executable, "-c", script], None
    else:
        command, stdin = [sys.executable, "-"], script
    done = subprocess.run(
        command, input=stdin, capture_output=True, text=True, timeout=600, cwd=tmp_path,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "2 runs stored this time (2 ok)" in done.stdout
    assert "Traceback" not in done.stderr and "another benchbench process" not in done.stderr
    assert marks.read_text() == "body\n"  # the body ran once: no worker imported the script


@pytest.mark.e2e
def test_torch_imported_first_then_run_one_runs_the_body_once(tmp_path):
    """torch loaded before the numerics mode could be set: the run trains in a fresh worker,
    which does not run the script again."""
    marks = tmp_path / "marks.txt"
    (tmp_path / "script.py").write_text(
        "import torch\nimport benchbench as bb\n"
        f"open({str(marks)!r}, 'a').write('body\\n')\n"
        "result = bb.run_one('digits', 'mlp', steps=20)\n"
        "print(result.status, result.test_accuracy)\n"
    )
    done = subprocess.run(
        [sys.executable, "script.py"], capture_output=True, text=True, timeout=600, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr[-2000:]
    status, accuracy = done.stdout.split()
    assert status == "ok" and float(accuracy) > 0.5  # ten classes: far above chance
    assert marks.read_text() == "body\n"
