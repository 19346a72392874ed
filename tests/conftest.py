"""Shared fixtures: tiny seeded backbones, generated image folders, the shared data path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def estimator_instances():
    """Every featx estimator with its defaults, the deep-DA heads trained 200 steps instead of
    1000 (the common and bad-input checks fit them dozens of times; same code path)."""
    from featx.utils.discovery import all_estimators

    return [cls(max_iter=200) if cls.__module__.startswith("featx.deepda") else cls() for _, cls in all_estimators()]


def make_images(root: Path, *, classes=("cat", "dog"), per_class=6, seed=0, fmt="png") -> Path:
    """Write small random RGB images of varied sizes into ``root/<class>/``."""
    rng = np.random.default_rng(seed)
    for c in classes:
        (root / c).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            h, w = rng.integers(20, 60, size=2)
            arr = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
            Image.fromarray(arr).save(root / c / f"{c}_{i:02d}.{fmt}")
    return root


@pytest.fixture
def image_folder(tmp_path) -> Path:
    """12 PNG images, two classes."""
    return make_images(tmp_path / "images")


@pytest.fixture
def tiny_backbone():
    """timm's ``test_resnet`` (96-d, 160 px) with seeded random weights."""
    import torch

    from featx.backbones import create_backbone

    torch.manual_seed(0)
    return create_backbone("timm:test_resnet", pretrained=False)


@pytest.fixture
def shared_data() -> Path:
    """``../shared/data``; the test is skipped when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is absent")
    return SHARED_DATA


def run_cli(capsys, *argv):
    """``featx ARGV...`` in this process: ``(exit status, stdout, stderr)``."""
    from featx.cli.main import main

    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def flip_feature_byte(path: Path, at: int = 3) -> None:
    """Damage a cache file as a failing disk would: one byte of its features inverted."""
    import h5py

    with h5py.File(path, "r") as f:
        offset = f["features"].id.get_offset()
    data = bytearray(Path(path).read_bytes())
    data[offset + at] ^= 0xFF
    Path(path).write_bytes(bytes(data))
