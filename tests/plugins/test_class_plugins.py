"""Components defined in a script or a notebook: ``plugins=[InputNoise]`` registers the class
itself. In this process (``run_one``) any class works, a script's or a notebook cell's; worker
processes (``run``, ``tune``) load it from its module by reference, and a class of
``__main__``, which workers never run, is one line saying how to make it loadable."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

PLUGIN = """
import torch
import benchbench
from benchbench import Float, Regularizer


class InputNoise(Regularizer):
    name = "input-noise"
    summary = "Gaussian noise added to every training input"
    defaults = {"std": 0.1}
    params = {"std": Float(0, 2, help="standard deviation of the noise")}

    def transform(self, x, targets, generator):
        noise = torch.randn(x.shape, generator=generator, device=generator.device)
        return x + self.hparams["std"] * noise, targets
"""


def _script(tmp_path, body: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-c", body],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=600,
    )


def test_a_class_of_the_script_trains_in_this_process_and_is_refused_for_workers(tmp_path):
    body = PLUGIN + textwrap.dedent(
        """
        import json
        import benchbench as bb

        result = bb.run_one("digits", "mlp", regularizer="input-noise", steps=30,
                            hparams={"input-noise.std": 0.2}, plugins=[InputNoise])
        again = bb.run_one("digits", "mlp", regularizer="input-noise", steps=30,
                           hparams={"input-noise.std": 0.2}, plugins=[InputNoise])
        try:
            bb.run("quick", plugins=[InputNoise], progress=False)
            refused = None
        except bb.BenchbenchError as exc:
            refused = str(exc)
        print(json.dumps({"status": result.status, "acc": result.test_accuracy,
                          "same": result.test_accuracy == again.test_accuracy,
                          "std": result.hparams["input-noise.std"],
                          "code": result.code["regularizer:input-noise"],
                          "refused": refused}))
        """
    )
    done = _script(tmp_path, body)
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert got["status"] == "ok" and got["acc"] > 0.5 and got["same"] and got["std"] == 0.2
    assert got["code"].startswith("-p __main__:InputNoise 0+src.")  # the class's own source
    assert got["refused"] == (
        "InputNoise is defined in __main__ (this script or notebook), which worker processes "
        "never run: put it in a module (my_plugins.py beside the script) and pass "
        "plugins=['my_plugins'], or train it in this process with bb.run_one(...)"
    )
    assert not (tmp_path / "benchbench-out").exists()  # refused before anything was made


@pytest.mark.e2e  # a flow across several commands, each with its worker processes: with the end-to-end ones
def test_a_class_from_a_module_reaches_the_worker_processes_by_reference(tmp_path):
    (tmp_path / "my_noise.py").write_text(PLUGIN)
    body = textwrap.dedent(
        """
        import json
        import benchbench as bb
        from my_noise import InputNoise

        tuning = bb.tune(task="digits", arch="mlp", regularizer="input-noise", trials=2,
                         steps=20, plugins=[InputNoise], out="out", progress=False)
        best = tuning.candidates[0]
        print(json.dumps({"trials": best.summary.trials, "complete": best.summary.complete,
                          "value": best.best_value}))
        """
    )
    done = _script(tmp_path, body)
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert got["trials"] == 2 and got["complete"] == 2 and got["value"] > 0.3
