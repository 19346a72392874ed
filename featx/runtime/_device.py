"""Device and precision selection."""

from __future__ import annotations

import contextlib

import torch

PRECISIONS = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def resolve_device(device="auto") -> torch.device:
    """``"auto"`` picks CUDA, then Apple MPS, then the CPU; anything else is taken as given.

    Raises ``ValueError`` when an explicit CUDA or MPS device is asked for but absent.
    """
    if isinstance(device, torch.device):
        device = str(device)
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(device)
    except RuntimeError as exc:
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda[:N]' or 'mps'; got {device!r}.") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} was asked for, but torch sees no CUDA GPU; use device='auto' or 'cpu'.")
    if dev.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ValueError(f"device {device!r} was asked for, but MPS is not available; use device='auto' or 'cpu'.")
    return dev


def cpu_has_native_bf16(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """Whether this CPU computes bfloat16 in hardware (AVX512-BF16 or AMX-BF16 on x86, read
    from ``/proc/cpuinfo``). Without it, bfloat16 is emulated: 16x slower than float32 on
    an AVX2 EPYC here. Other systems answer ``False``."""
    try:
        with open(cpuinfo, encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return bool(flags & {"avx512_bf16", "amx_bf16"})
    except OSError:
        pass
    return False


def auto_precision(device: torch.device) -> str:
    """``precision="auto"``: bfloat16 on CUDA GPUs that support it, else float16 on CUDA and
    MPS; bfloat16 on CPUs with native bfloat16; float32 elsewhere."""
    if device.type == "cuda":
        return "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
    if device.type == "mps":
        return "float16"
    return "bfloat16" if cpu_has_native_bf16() else "float32"


def check_precision(precision: str, device: torch.device) -> str:
    """Validate ``precision`` for ``device`` (``"auto"`` resolved by :func:`auto_precision`);
    return its canonical name, which is what the cache key records."""
    if precision == "auto":
        return auto_precision(device)
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {sorted(PRECISIONS) + ['auto']}; got {precision!r}.")
    if precision == "bfloat16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise ValueError(f"precision 'bfloat16' is not supported by {torch.cuda.get_device_name(device)}; use "
                         "'float16'.")
    return precision


def inference_model(model, device: torch.device):
    """``model`` on ``device`` as the forward loops run it: channels-last memory (not on
    MPS), and ``cudnn.benchmark`` on CUDA (inputs keep one shape for a whole run)."""
    model = model.to(device)
    if device.type != "mps":
        model = model.to(memory_format=torch.channels_last)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    return model


def autocast(device: torch.device, precision: str):
    """An autocast context for ``precision`` on ``device`` (a no-op for float32)."""
    if precision == "float32":
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=PRECISIONS[precision])
