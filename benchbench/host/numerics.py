"""How CPU runs compute: the same bits on every x86 machine (``portable``), or whatever this
machine's widest vector instructions give (``native``).

Training on the CPU repeats bit for bit on one machine. Across machines it did not: the
published ``default`` suite rerun on another 2-core machine with the same torch build gave
identical test accuracies for 170 of 354 runs, because torch picks its kernels by the CPU's
vector instructions at load time. ATen dispatches to AVX-512 where the CPU has it, oneDNN
(convolutions) to its widest ISA, and MKL (matrix products) to a branch of its own per CPU
and thread count. ``portable`` pins all three before torch loads:

- ``ATEN_CPU_CAPABILITY=avx2``: ATen's vectorised kernels at AVX2, which every x86 CPU of
  the last ten years has;
- ``ONEDNN_MAX_CPU_ISA=AVX2``: oneDNN's kernels at most AVX2;
- ``MKL_CBWR=COMPATIBLE``: MKL's conditional numerical reproducibility on its SSE2 branch,
  the only branch MKL keeps bitwise on Intel and AMD CPUs alike; on this machine it also
  gave the same bits with one thread as with two.

These are read once, when torch loads, so the mode is chosen per process before torch is
imported: :func:`select` sets them for this process's future children (the worker pool,
which trains), and :func:`check` tells whether the process that is about to train honours
the mode its spec names. The mode is part of every run id (other bits are other results),
and each result records what the machine offered and what was used (:func:`observed`).
What ``portable`` costs against ``native`` is measured by ``bench/numerics.py``.
"""

from __future__ import annotations

import os
import platform
from typing import Any

from .. import arguments
from ..phrasing import option

MODES = arguments.RULES["numerics"].choices
"""``portable`` and ``native``."""
DEFAULT = "portable"
ENV = "BENCHBENCH_NUMERICS"
"""The environment variable that carries the mode into worker processes."""
PORTABLE_ENV = {
    "ATEN_CPU_CAPABILITY": "avx2",
    "ONEDNN_MAX_CPU_ISA": "AVX2",
    "MKL_CBWR": "COMPATIBLE",
}
"""What ``portable`` sets before torch loads; ``native`` removes them."""
_ATEN_PORTABLE = "AVX2"
_VECTOR_FLAGS = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512_bf16", "amx_tile")


def current() -> str:
    """The mode runs planned in this process use: ``BENCHBENCH_NUMERICS``, else portable."""
    mode = os.environ.get(ENV, DEFAULT)
    return mode if mode in MODES else DEFAULT


def select(mode: str) -> None:
    """Make ``mode`` this process's mode, and the environment its worker processes start
    with (they train, and load torch after this). An unknown mode is one clear line."""
    arguments.check("numerics", mode)
    os.environ[ENV] = mode
    for name, value in PORTABLE_ENV.items():
        if mode == "portable":
            os.environ[name] = value
        else:
            os.environ.pop(name, None)


def honoured() -> str:
    """The mode this process can train in itself: its chosen mode where torch loaded with
    that mode's settings, else ``native``. For checks that run in the caller's process (the
    plugin kit, a plugin's own tests), where the bits need not travel."""
    mode = current()
    return mode if check(mode) is None else "native"


def environment() -> dict[str, str]:
    """The environment a worker process elsewhere (a Ray node) needs to train in this
    process's mode."""
    mode = current()
    return {ENV: mode, **(PORTABLE_ENV if mode == "portable" else {})}


def portable_here() -> bool:
    """Whether this machine can compute ``portable`` bits at all: an x86-64 CPU with AVX2."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return False
    return "avx2" in _cpu_flags()


def check(mode: str | None) -> str | None:
    """Why this process cannot train a run in ``mode`` (torch already loaded with other
    kernels, or a CPU that cannot), or None when it can. ``None`` (a run planned before the
    modes existed) is always fine."""
    if mode is None or mode == "native":
        return None
    state = observed()
    if not portable_here():
        return (
            f"numerics 'portable' needs an x86-64 CPU with AVX2 ({state['cpu_model']} has "
            f"none); run with {option('numerics', 'native')}"
        )
    wrong = [
        f"{name}={os.environ.get(name)!s}"
        for name, value in PORTABLE_ENV.items()
        if os.environ.get(name) != value
    ]
    if state["aten_capability"] != _ATEN_PORTABLE or wrong:
        return (
            f"numerics 'portable' needs torch loaded with {_settings()}, but this process "
            f"loaded it with ATen at {state['aten_capability']}"
            + (f" and {', '.join(wrong)}" if wrong else "")
            + " (torch was imported before benchbench chose the mode); start a new process"
        )
    return None


def _settings() -> str:
    return " ".join(f"{k}={v}" for k, v in PORTABLE_ENV.items())


def observed() -> dict[str, Any]:
    """What this process's CPU offers and what torch uses: the mode asked for, the CPU model
    and its vector flags, ATen's dispatch level, oneDNN's ISA cap and MKL's branch."""
    import torch

    return {
        "mode": os.environ.get(ENV, DEFAULT),
        "cpu_model": _cpu_model(),
        "cpu_flags": [f for f in _VECTOR_FLAGS if f in _cpu_flags()],
        "aten_capability": torch.backends.cpu.get_cpu_capability(),
        "onednn_max_isa": os.environ.get("ONEDNN_MAX_CPU_ISA", "native"),
        "mkl_cbwr": os.environ.get("MKL_CBWR", "AUTO"),
    }


def _cpuinfo_field(name: str) -> str | None:
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith(name):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def _cpu_model() -> str:
    return _cpuinfo_field("model name") or platform.processor() or platform.machine()


def _cpu_flags() -> set[str]:
    return set((_cpuinfo_field("flags") or "").split())
