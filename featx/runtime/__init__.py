"""What extraction and fine-tuning both run on: device and precision choice, decode-worker
loaders of uint8 batches, and the CPU allocator setting (torch, no cache, no estimators)."""

from featx.runtime._device import (
    PRECISIONS,
    auto_precision,
    autocast,
    check_precision,
    cpu_has_native_bf16,
    inference_model,
    resolve_device,
)
from featx.runtime._loader import (
    ImageDecodeError,
    PreprocessedImages,
    aligned_batches,
    check_pixels,
    decode_error,
    default_num_workers,
    make_batch_loader,
    make_loader,
)
from featx.runtime._malloc import reuse_large_allocations

__all__ = [
    "PRECISIONS",
    "ImageDecodeError",
    "PreprocessedImages",
    "aligned_batches",
    "auto_precision",
    "autocast",
    "check_pixels",
    "check_precision",
    "cpu_has_native_bf16",
    "decode_error",
    "default_num_workers",
    "inference_model",
    "make_batch_loader",
    "make_loader",
    "resolve_device",
    "reuse_large_allocations",
]
