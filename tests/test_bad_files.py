"""Unreadable images: skipped and recorded (or an error naming the file); odd but valid ones decode."""

import io
import json
import os

import numpy as np
import pytest
from PIL import Image

from featx.extract import cache_info, extract_features, verify_cache
from featx.runtime import ImageDecodeError


def _png_bytes(arr) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture
def messy(tmp_path):
    """One class folder with 5 good images, odd-but-valid files and unreadable ones."""
    root = tmp_path / "messy"
    d = root / "things"
    d.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(5):
        Image.fromarray(rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)).save(d / f"good_{i}.png")
    # valid, if unusual: all decode
    (d / "png_named.jpg").write_bytes(_png_bytes(rng.integers(0, 256, (30, 30, 3), dtype=np.uint8)))
    Image.fromarray(rng.integers(0, 256, (30, 30), dtype=np.uint8)).convert("P").save(d / "palette.gif")
    Image.new("CMYK", (30, 20), (10, 200, 30, 0)).save(d / "cmyk.jpg")
    Image.fromarray(np.full((20, 20), 40000, np.uint16)).save(d / "sixteen.png")
    Image.fromarray(rng.integers(0, 256, (25, 35), dtype=np.uint8)).save(d / "gray.png")
    # unreadable
    (d / "zero.jpg").write_bytes(b"")
    jpeg = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(jpeg, format="JPEG")
    (d / "truncated.jpg").write_bytes(jpeg.getvalue()[: len(jpeg.getvalue()) // 2])
    (d / "text.png").write_text("not an image")
    os.symlink(d / "loop_b.jpg", d / "loop_a.jpg")
    os.symlink(d / "loop_a.jpg", d / "loop_b.jpg")
    os.symlink(d / "missing.png", d / "dangling.png")
    return root


UNREADABLE = {"things/zero.jpg", "things/truncated.jpg", "things/text.png", "things/loop_a.jpg",
              "things/loop_b.jpg", "things/dangling.png"}


def test_unreadable_images_are_skipped_recorded_and_listed(messy, tiny_backbone, tmp_path, caplog):
    with caplog.at_level("WARNING", logger="featx.extract._api"):
        fs = extract_features(messy, tiny_backbone, cache_dir=tmp_path / "c", batch_size=4, progress=False)
    skipped = dict(fs.metadata["skipped"])
    assert set(skipped) == UNREADABLE
    assert len(fs) == 10 and not set(fs.ids) & UNREADABLE and np.isfinite(fs.X).all()
    assert "truncated" in skipped["things/truncated.jpg"] or "broken" in skipped["things/truncated.jpg"]
    assert "6 of 16 images could not be read" in caplog.text
    path = fs.metadata["path"]
    assert dict(cache_info(path)["skipped"]) == skipped and verify_cache(path) == []
    # a cache hit returns the same rows and the same record, computing nothing
    again = extract_features(messy, tiny_backbone, cache_dir=tmp_path / "c", batch_size=4, progress=False)
    assert again.metadata["n_computed"] == 0 and dict(again.metadata["skipped"]) == skipped
    np.testing.assert_array_equal(again.X, fs.X)


def test_on_error_fail_names_the_file_and_keeps_finished_rows(messy, tiny_backbone, tmp_path):
    cache = tmp_path / "c"
    with pytest.raises(ImageDecodeError, match=r"things/dangling.png.*(No such file|FileNotFoundError)"):
        extract_features(messy, tiny_backbone, cache_dir=cache, batch_size=4, on_error="fail", progress=False)
    # the batch before the bad file was written: a skipping run computes only the rest
    fs = extract_features(messy, tiny_backbone, cache_dir=cache, batch_size=4, progress=False)
    assert 0 < fs.metadata["n_computed"] < 16 and len(fs) == 10
    with pytest.raises(ValueError, match="on_error must be 'skip' or 'fail'; got 'ignore'"):
        extract_features(messy, tiny_backbone, cache_dir=cache, on_error="ignore")


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")  # Pillow's own, before featx refuses
def test_decompression_bombs_are_refused_before_decoding(tmp_path, tiny_backbone, monkeypatch):
    root = tmp_path / "bomb" / "x"
    root.mkdir(parents=True)
    Image.new("RGB", (10, 10)).save(root / "small.png")
    Image.new("RGB", (80, 100)).save(root / "big.png")  # 1.6x the limit: Pillow itself only warns
    Image.new("RGB", (200, 100)).save(root / "huge.png")  # 4x: Pillow refuses
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 5000)
    fs = extract_features(root.parent, tiny_backbone, cache_dir=tmp_path / "c", progress=False)
    skipped = dict(fs.metadata["skipped"])
    assert list(fs.ids) == ["x/small.png"] and set(skipped) == {"x/big.png", "x/huge.png"}
    assert "80 x 100 pixels is over the decompression-bomb limit of 5000" in skipped["x/big.png"]
    assert "DecompressionBombError" in skipped["x/huge.png"]


def test_unreadable_permissions_are_skipped(tmp_path, tiny_backbone, monkeypatch):
    root = tmp_path / "perm" / "x"
    root.mkdir(parents=True)
    Image.new("RGB", (10, 10)).save(root / "ok.png")
    Image.new("RGB", (10, 10)).save(root / "locked.png")
    (root / "locked.png").chmod(0)
    if os.geteuid() == 0:  # root reads whatever the mode: make the open fail as it would for a user
        real_open = Image.open

        def denying_open(path, *args, **kwargs):
            if os.fspath(path).endswith("locked.png"):
                raise PermissionError(13, "Permission denied", os.fspath(path))
            return real_open(path, *args, **kwargs)

        monkeypatch.setattr(Image, "open", denying_open)
    fs = extract_features(root.parent, tiny_backbone, cache_dir=tmp_path / "c", progress=False, num_workers=0)
    [(sample, reason)] = fs.metadata["skipped"]
    assert sample == "x/locked.png" and "Permission denied" in reason and list(fs.ids) == ["x/ok.png"]


def test_cli_extract_lists_skipped_files_and_fails_on_request(messy, tiny_backbone, tmp_path, capsys, monkeypatch):
    import featx.backbones as backbones
    from featx.cli.main import main

    monkeypatch.setattr(backbones, "create_backbone", lambda name, **kw: tiny_backbone)
    assert main(["extract", str(messy), "--cache-dir", str(tmp_path / "c"), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "skipped 6 unreadable image(s)" in out and "things/zero.jpg:" in out
    path = next((tmp_path / "c").rglob("*.h5"))
    assert main(["cache", "info", str(path)]) == 0
    assert {s for s, _ in json.loads(capsys.readouterr().out)["skipped"]} == UNREADABLE
    code = main(["extract", str(messy), "--cache-dir", str(tmp_path / "d"), "--on-error", "fail", "--no-progress"])
    assert code == 2 and "Cannot decode sample 'things/dangling.png'" in capsys.readouterr().err
