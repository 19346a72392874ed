"""Which CPU code paths a run takes: the CPU's vector extensions, the BLAS kernel threadpoolctl
sees, and torch's ATen kernel level; recorded beside results that may depend on them."""

from __future__ import annotations

import platform
import sys
from pathlib import Path

__all__ = [
    "VECTOR_FLAGS",
    "code_paths",
    "cpu_flags",
    "cpu_name",
    "process_cpu_seconds",
]

#: The /proc/cpuinfo flags that decide which kernels numpy, OpenBLAS, oneDNN and ATen pick.
VECTOR_FLAGS = ("avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_bf16", "avx512_vnni", "amx_bf16")


def cpu_flags() -> list[str]:
    """The :data:`VECTOR_FLAGS` this CPU reports (empty where /proc/cpuinfo is absent)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return []
    line = next((x for x in text.splitlines() if x.startswith("flags")), "")
    flags = set(line.split(":", 1)[-1].split())
    return [f for f in VECTOR_FLAGS if f in flags]


def cpu_name() -> str:
    """The CPU's model name (``platform.processor()`` where /proc/cpuinfo is absent)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def code_paths() -> dict:
    """The CPU, its vector flags, each loaded BLAS library's kernel (threadpoolctl's
    ``architecture``) and, when torch is loaded, its ATen CPU capability.

    Examples
    --------
    >>> sorted(code_paths())
    ['blas', 'cpu', 'cpu_flags', 'torch_cpu_capability']
    """
    from threadpoolctl import threadpool_info

    blas = [{"library": i.get("internal_api"), "version": i.get("version"), "architecture": i.get("architecture"),
             "threads": i.get("num_threads")} for i in threadpool_info() if i.get("user_api") == "blas"]
    torch = sys.modules.get("torch")
    capability = torch.backends.cpu.get_cpu_capability() if torch is not None else None
    return {"cpu": cpu_name(), "cpu_flags": cpu_flags(), "blas": blas, "torch_cpu_capability": capability}


def process_cpu_seconds() -> float:
    """User + system CPU time of this process, all its threads (not its child processes)."""
    import os

    t = os.times()
    return t.user + t.system
