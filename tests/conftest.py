"""Shared fixtures: tiny seeded backbones, generated image folders, the shared data path."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"

try:  # the property tests' profiles: light and random here, full and fixed in CI (CI=true)
    from hypothesis import settings as _hypothesis_settings

    _hypothesis_settings.register_profile("dev", max_examples=20)
    _hypothesis_settings.register_profile("ci", max_examples=60, derandomize=True)
    _hypothesis_settings.load_profile("ci" if os.environ.get("CI") else "dev")
except ImportError:  # pragma: no cover - hypothesis is a test extra; test_fuzz.py skips without it
    pass


#: The deep-DA heads at a size the common checks can fit dozens of times (a few seconds in all):
#: 60 steps of a 32-wide bottleneck and domain discriminator instead of 1000 steps of 256 and 1024,
#: the same code path; each head's convergence is tested at its defaults in test_deepda.py.
QUICK_DEEP = {"max_iter": 60, "bottleneck_dim": 32}


def quick_deep(estimator):
    """``estimator`` with every deep-DA head in it (itself or nested) at :data:`QUICK_DEEP`'s size."""
    params = estimator.get_params(deep=True)
    owners = [("", estimator)] + [(k + "__", v) for k, v in params.items() if hasattr(v, "get_params")]
    for prefix, owner in owners:
        if type(owner).__module__.startswith("featx.deepda"):
            own = owner.get_params(deep=False)
            extra = {"hidden_size": 32} if "hidden_size" in own else {}
            estimator.set_params(**{prefix + k: v for k, v in {**QUICK_DEEP, **extra}.items()})
    return estimator


def estimator_instances():
    """Every featx estimator with its defaults, the deep-DA heads at :data:`QUICK_DEEP`'s size
    (the common and bad-input checks fit them dozens of times)."""
    from featx.utils.discovery import all_estimators

    return [quick_deep(cls()) for _, cls in all_estimators()]


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


@pytest.fixture(scope="session")
def _tiny_extracted(tmp_path_factory):
    """The 12 images of ``image_folder`` and their features under ``tiny_backbone``, extracted
    once per session. Read-only: tests take :func:`tiny_cache`, which copies the cache."""
    import torch

    from featx.backbones import create_backbone
    from featx.extract import extract_features

    root = tmp_path_factory.mktemp("tiny-extracted")
    folder = make_images(root / "images")
    torch.manual_seed(0)
    extract_features(folder, create_backbone("timm:test_resnet", pretrained=False), cache_dir=root / "cache",
                     progress=False, num_workers=0)
    return folder, root / "cache"


@pytest.fixture
def tiny_cache(_tiny_extracted, tmp_path):
    """``(images, cache_dir)``: the session's 12 images (do not change them) and this test's own
    copy of their complete feature cache under ``tiny_backbone``, to read or to damage."""
    import shutil

    folder, cache = _tiny_extracted
    return folder, Path(shutil.copytree(cache, tmp_path / "tiny-cache"))


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


def interrupted_fit(monkeypatch, fit, epoch: int = 3) -> None:
    """Run ``fit()`` with fine-tuning's epoch function raising ``KeyboardInterrupt`` when
    epoch ``epoch`` (1-based, counted from this call) starts, as Ctrl-C there would; the epoch
    function is restored afterwards."""
    import featx.finetune._classifier as module  # private: the epoch function, replaced to interrupt a run

    original, calls = module.train_epoch, []

    def crash(*args, **kwargs):
        calls.append(1)
        if len(calls) == epoch:
            raise KeyboardInterrupt("killed")
        return original(*args, **kwargs)

    monkeypatch.setattr(module, "train_epoch", crash)
    try:
        with pytest.raises(KeyboardInterrupt):
            fit()
    finally:
        monkeypatch.setattr(module, "train_epoch", original)
