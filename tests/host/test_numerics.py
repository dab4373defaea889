"""The numerics modes: part of the run id, set before torch loads in the process that
trains, recorded in every result."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from benchbench import BenchbenchError, Budget, RunSpec
from benchbench.host import numerics

needs_avx2 = pytest.mark.skipif(not numerics.portable_here(), reason="no x86-64 AVX2 CPU")


def test_the_mode_is_part_of_the_run_id_and_older_specs_keep_theirs():
    old = RunSpec(task="digits", arch="mlp", budget=Budget(steps=3))
    assert old.to_dict().get("numerics") is None
    # the id such a spec had before the modes existed (no "numerics" key is hashed)
    assert old.run_id == RunSpec.from_dict(old.to_dict()).run_id
    portable = RunSpec(task="digits", arch="mlp", budget=Budget(steps=3), numerics="portable")
    native = RunSpec(task="digits", arch="mlp", budget=Budget(steps=3), numerics="native")
    assert len({old.run_id, portable.run_id, native.run_id}) == 3
    assert portable.config_id != native.config_id  # other bits: another configuration


def test_select_sets_and_clears_what_torch_reads(monkeypatch):
    for name in [numerics.ENV, *numerics.PORTABLE_ENV]:
        monkeypatch.delenv(name, raising=False)
    numerics.select("portable")
    assert os.environ["ATEN_CPU_CAPABILITY"] == "avx2"
    assert os.environ["ONEDNN_MAX_CPU_ISA"] == "AVX2"
    assert os.environ["MKL_CBWR"] == "COMPATIBLE"
    assert numerics.current() == "portable"
    numerics.select("native")
    assert numerics.current() == "native"
    assert not set(numerics.PORTABLE_ENV) & set(os.environ)
    assert numerics.check("native") is None
    with pytest.raises(BenchbenchError, match="numerics must be one of portable, native"):
        numerics.select("fast")
    numerics.select("portable")


@needs_avx2
def test_this_test_process_trains_portable_and_records_what_it_used(pm, data_dir):
    """conftest chose portable before torch loaded."""
    import benchbench as bb

    result = bb.run_one("digits", "mlp", steps=5, device="cpu", data_dir=data_dir)
    assert result.numerics == "portable"
    used = result.machine["numerics"]
    assert used["mode"] == "portable"
    assert used["aten_capability"] == "AVX2"
    assert (used["onednn_max_isa"], used["mkl_cbwr"]) == ("AVX2", "COMPATIBLE")
    assert "avx2" in used["cpu_flags"]


@needs_avx2
def test_a_process_whose_torch_loaded_natively_trains_portable_in_a_fresh_worker(data_dir):
    """A notebook that imported torch first: run_one trains in a new process, which loads
    torch pinned; native runs stay here, at the machine's own level."""
    script = (
        "import json, torch\n"
        "import benchbench as bb\n"
        "if __name__ == '__main__':\n"
        "    here = torch.backends.cpu.get_cpu_capability()\n"
        "    p = bb.run_one('digits', 'mlp', steps=5, device='cpu')\n"
        "    n = bb.run_one('digits', 'mlp', steps=5, device='cpu', numerics='native')\n"
        "    print(json.dumps([here, p.status, p.machine['numerics']['aten_capability'],\n"
        "                      n.machine['numerics']['aten_capability'], p.run_id != n.run_id]))\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in numerics.PORTABLE_ENV}
    env.pop(numerics.ENV, None)
    env["BENCHBENCH_DATA"] = str(data_dir)
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300
    )
    assert done.returncode == 0, done.stderr
    here, status, portable_aten, native_aten, differ = json.loads(done.stdout.splitlines()[-1])
    assert status == "ok"
    assert portable_aten == "AVX2"
    assert native_aten == here  # the machine's own level, whatever it is
    assert differ


def test_a_run_in_a_process_that_cannot_honour_its_mode_fails_in_one_line(
    pm, data_dir, monkeypatch
):
    """A worker whose torch loaded with other kernels than the spec's mode says so, instead
    of storing bits under the wrong id."""
    from benchbench.execution.execute import execute
    from benchbench.planning.resolve import resolve_spec

    spec = resolve_spec(pm.registry, task="digits", arch="mlp", budget=Budget(steps=2))
    monkeypatch.delenv("MKL_CBWR")  # as if torch had loaded without it
    result = execute(spec, pm, data_dir)
    assert result.status == "failed"
    assert "numerics 'portable' needs" in result.error
    assert "MKL_CBWR=None" in result.error
