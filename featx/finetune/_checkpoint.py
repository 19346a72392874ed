"""Epoch checkpoints of a fine-tuning run: written atomically, read without unpickling code."""

from __future__ import annotations

import os
from pathlib import Path

import torch

CHECKPOINT_NAME = "finetune.pt"
FORMAT_VERSION = 1


def save_checkpoint(directory, state: dict) -> Path:
    """Write ``state`` to ``directory/finetune.pt`` via a temporary file and a rename, so a
    crash leaves either the previous checkpoint or the new one, never half of one."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / CHECKPOINT_NAME
    tmp = path.with_name(f"{path.name}.tmp{os.getpid()}")
    torch.save({"format_version": FORMAT_VERSION, **state}, tmp)
    os.replace(tmp, path)
    return path


def load_checkpoint(directory) -> dict | None:
    """The checkpoint in ``directory``, or ``None`` when there is none. Read with
    ``weights_only=True``: tensors, numbers, strings and containers only, never code."""
    path = Path(directory) / CHECKPOINT_NAME
    if not path.exists():
        return None
    state = torch.load(path, map_location="cpu", weights_only=True)
    if state.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"Checkpoint {str(path)!r} has format {state.get('format_version')!r}; "
                         f"expected {FORMAT_VERSION}. Delete it to start over.")
    return state
