import csv

import numpy as np
import pytest
from PIL import Image

from featx.data import (
    ImageFolder,
    InMemoryImages,
    Manifest,
    load_digits_images,
    open_source,
    resize_and_crop,
    to_rgb,
)


def write_csv(path, rows, header=("path", "label", "domain")):
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def test_image_folder_ids_labels_and_domain(image_folder):
    src = ImageFolder(image_folder)
    assert len(src) == 12
    assert src.classes == ("cat", "dog")
    assert src.ids[0] == "cat/cat_00.png" and src.ids == sorted(src.ids)
    assert src.labels.tolist() == [0] * 6 + [1] * 6
    assert set(src.domains) == {"images"}
    assert ImageFolder(image_folder, domain="photos").domains[0] == "photos"
    assert src.load(0).size[0] >= 20


def test_image_folder_without_class_folders_is_unlabelled(tmp_path):
    Image.new("RGB", (8, 8)).save(tmp_path / "a.png")
    src = ImageFolder(tmp_path)
    assert src.labels.tolist() == [-1] and src.classes == ()


def test_image_folder_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="expected a directory"):
        ImageFolder(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="No images"):
        ImageFolder(tmp_path / "empty")


def test_manifest_paths_labels_domains(image_folder):
    csv_path = write_csv(
        image_folder / "list.csv", [["cat/cat_00.png", "cat", "a"], ["dog/dog_00.png", "dog", ""], ["dog/dog_01.png",
                                                                                                    "", "b"]]
    )
    src = Manifest(csv_path, domain="fallback")
    assert src.ids == ["cat/cat_00.png", "dog/dog_00.png", "dog/dog_01.png"]
    assert src.classes == ("cat", "dog") and src.labels.tolist() == [0, 1, -1]
    assert src.domains == ["a", "fallback", "b"]
    assert src.load(1).size[0] >= 20


def test_manifest_numeric_labels_sort_as_numbers(image_folder):
    rows = [[f"cat/cat_0{i}.png", str(lab)] for i, lab in enumerate([10, 2, 1])]
    src = Manifest(write_csv(image_folder / "n.csv", rows, header=("path", "label")))
    assert src.classes == ("1", "2", "10")


@pytest.mark.parametrize(
    "header, rows, match",
    [
        (("file", "label"), [["a.png", "x"]], "must have a header with a 'path' column"),
        (("path", "label"), [], "lists no images"),
        (("path", "label"), [["", "x"]], "empty 'path'"),
        (("path", "label"), [["../outside.png", "x"]], "resolves outside the data root"),
        (("path", "label"), [["cat/cat_00.png", "x"], ["cat/cat_00.png", "x"]], "more than once"),
    ],
)
def test_manifest_errors(image_folder, header, rows, match):
    with pytest.raises(ValueError, match=match):
        Manifest(write_csv(image_folder / "bad.csv", rows, header=header))


def test_manifest_outside_root_allowed_on_request(image_folder, tmp_path):
    Image.new("RGB", (8, 8)).save(tmp_path / "outside.png")
    src = Manifest(write_csv(image_folder / "o.csv", [["../outside.png", "x"]]), allow_outside_root=True)
    assert src.paths[0] == (tmp_path / "outside.png").resolve()


def test_in_memory_arrays_and_pil():
    arr = np.zeros((3, 8, 8), np.uint8)
    src = InMemoryImages(arr, labels=["a", "b", None])
    assert src.labels.tolist() == [0, 1, -1] and src.ids == ["0", "1", "2"]
    assert src.load(0).size == (8, 8)
    floats = InMemoryImages(np.ones((2, 4, 4, 3)) * 0.5)
    assert np.asarray(floats.load(0))[0, 0, 0] == 128
    pil = InMemoryImages([Image.new("RGB", (5, 5))], ids=["x"], domain=["d"])
    assert pil.load(0).size == (5, 5) and pil.domains == ["d"]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"images": np.zeros((2, 4, 4, 5), np.uint8)}, "images must have shape"),
        ({"images": np.zeros((2, 4), np.uint8)}, "images must have shape"),
        ({"images": np.zeros((2, 4, 4), np.uint8), "ids": ["a", "a"]}, "ids must be 2 unique"),
        ({"images": np.zeros((2, 4, 4), np.uint8), "labels": ["a"]}, "Expected 2 labels"),
        ({"images": np.zeros((2, 4, 4), np.uint8), "domain": ["a"]}, "Expected 2 domain names"),
        ({"images": np.zeros((1, 4, 4), np.uint8), "labels": ["z"], "classes": ["a"]}, "not among the classes"),
    ],
)
def test_in_memory_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        InMemoryImages(**kwargs)


@pytest.mark.parametrize("mode", ["L", "P", "RGBA", "CMYK", "LA", "1", "YCbCr"])
def test_to_rgb_converts_modes(mode):
    img = Image.new("RGB", (6, 4), (200, 100, 50)).convert(mode)
    out = to_rgb(img)
    assert out.mode == "RGB" and out.size == (6, 4)


def test_to_rgb_scales_16bit_and_float():
    img16 = Image.fromarray(np.full((4, 4), 65535, np.uint16))
    assert img16.mode.startswith("I")
    assert np.asarray(to_rgb(img16)).min() == 255
    half = Image.fromarray(np.full((4, 4), 32896, np.uint16))
    assert np.asarray(to_rgb(half))[0, 0, 0] == 128
    f = Image.fromarray(np.full((4, 4), 300.0, np.float32))
    assert np.asarray(to_rgb(f))[0, 0, 0] == 255


def test_to_rgb_applies_exif_orientation(tmp_path):
    img = Image.new("RGB", (20, 10))
    exif = img.getexif()
    exif[0x0112] = 6  # rotate 90 degrees
    img.save(tmp_path / "r.jpg", exif=exif)
    with Image.open(tmp_path / "r.jpg") as im:
        assert to_rgb(im).size == (10, 20)


def test_resize_and_crop_shapes_and_center():
    arr = np.zeros((100, 200, 3), np.uint8)
    arr[:, 90:110] = 255  # a bright vertical bar in the centre
    out = resize_and_crop(Image.fromarray(arr), (32, 32), crop_pct=1.0)
    assert out.shape == (32, 32, 3) and out.dtype == np.uint8
    assert out[:, 14:18].mean() > 200 and out[:, :4].mean() < 5
    squash = resize_and_crop(Image.fromarray(arr), (32, 48), crop_pct=1.0, crop_mode="squash")
    assert squash.shape == (32, 48, 3)


def test_reduced_jpeg_decoding_matches_full_decoding(tmp_path):
    rng = np.random.default_rng(0)
    smooth = np.kron(rng.integers(0, 256, (12, 16, 3)), np.ones((40, 40, 1))).astype(np.uint8)
    Image.fromarray(smooth).save(tmp_path / "big.jpg", quality=95)
    with Image.open(tmp_path / "big.jpg") as im:
        fast = resize_and_crop(im, (56, 56), crop_pct=0.875).astype(float)
    with Image.open(tmp_path / "big.jpg") as im:
        im.load()  # decoded at full size: no draft
        slow = resize_and_crop(im.copy(), (56, 56), crop_pct=0.875).astype(float)
    assert np.abs(fast - slow).mean() < 4.0


@pytest.mark.parametrize("kwargs, match", [({"interpolation": "cubic"}, "interpolation"), ({"crop_mode": "x"},
                                                                                           "crop_mode")])
def test_resize_and_crop_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        resize_and_crop(Image.new("RGB", (8, 8)), (4, 4), **kwargs)


def test_fingerprint_tracks_files_labels_and_domains(image_folder):
    base = ImageFolder(image_folder).fingerprint()
    assert ImageFolder(image_folder).fingerprint() == base
    assert ImageFolder(image_folder, domain="other").fingerprint() != base
    Image.new("RGB", (30, 30), (1, 2, 3)).save(image_folder / "cat" / "cat_00.png")
    assert ImageFolder(image_folder).fingerprint() != base
    a = InMemoryImages(np.zeros((2, 4, 4), np.uint8), labels=["x", "y"])
    b = InMemoryImages(np.zeros((2, 4, 4), np.uint8), labels=["x", "x"])
    assert a.fingerprint() != b.fingerprint()


def test_open_source_dispatch(image_folder):
    assert isinstance(open_source(image_folder), ImageFolder)
    csv_path = write_csv(image_folder / "m.csv", [["cat/cat_00.png", "cat", "d"]])
    assert isinstance(open_source(csv_path), Manifest)
    src = open_source("builtin:digits")
    assert open_source(src) is src
    with pytest.raises(ValueError, match="Unknown built-in"):
        open_source("builtin:nope")
    with pytest.raises(ValueError, match="Cannot read data"):
        open_source(image_folder / "nothing-here")


def test_digits_are_the_real_sklearn_digits():
    src = load_digits_images()
    assert len(src) == 1797 and src.classes == tuple(str(i) for i in range(10))
    img = np.asarray(src.load(0))
    assert img.shape == (32, 32) and img.max() > 200
    assert len(load_digits_images(n_samples=10, size=16)) == 10
    with pytest.raises(ValueError, match="multiple of 8"):
        load_digits_images(size=12)
    with pytest.raises(ValueError, match="n_samples must be between 1 and 1797; got 0"):
        load_digits_images(n_samples=0)


def test_shifted_digits_are_thicker_and_inverted():
    from featx.data import load_shifted_digits_images

    base, shifted = load_digits_images(n_samples=50), load_shifted_digits_images(n_samples=50)
    assert shifted.labels.tolist() == base.labels.tolist() and shifted.ids[0] == "digits-shifted/0000"
    ink_base = (base.images > 127).sum(axis=(1, 2))
    ink_shifted = (shifted.images < 128).sum(axis=(1, 2))  # inverted: strokes are dark
    assert (ink_shifted > ink_base).all()  # every digit's strokes grew
    assert shifted.images[:, 0, 0].min() > 200  # white paper


@pytest.mark.parametrize("shape", [(375, 500), (500, 333), (90, 300)])
def test_box_resize_equals_resize_then_crop(shape):
    import math

    arr = np.random.default_rng(1).integers(0, 256, (*shape, 3), dtype=np.uint8)
    img = Image.fromarray(arr)
    out = resize_and_crop(img, (56, 56), crop_pct=0.875).astype(float)
    s = math.floor(56 / 0.875)
    r = s / min(shape)
    nw, nh = max(s, round(shape[1] * r)), max(s, round(shape[0] * r))
    big = img.resize((nw, nh), Image.Resampling.BICUBIC)
    left, top = int(round((nw - 56) / 2)), int(round((nh - 56) / 2))
    ref = np.asarray(big.crop((left, top, left + 56, top + 56))).astype(float)
    assert np.abs(out - ref).mean() < 1.0


def test_shifted_domains_mask_the_target_and_shift_it_as_asked():
    from featx.data import make_shifted_domains

    X, y, sd, y_target = make_shifted_domains(300, 200, 4, 3, shift=2.0, rotation=0.0, random_state=0)
    assert X.shape == (500, 4) and (y[sd < 0] == -1).all() and (sd[:300] == 1).all() and (sd[300:] == -2).all()
    assert np.bincount(y[sd > 0]).tolist() == [100, 100, 100] and len(y_target) == 200
    # with no rotation or stretch the shift is the difference of the class-balanced means
    np.testing.assert_allclose(X[sd < 0].mean(0) - X[sd > 0].mean(0), 2.0, atol=0.3)
    same = make_shifted_domains(300, 200, 4, 3, shift=0.0, rotation=0.0, random_state=0)[0]
    np.testing.assert_allclose(same[300:] + 2.0, X[300:])
    a, b = (make_shifted_domains(50, 50, 3, stretch=4.0, rotation=0.0, shift=0.0, random_state=1)[0]
            for _ in range(2))
    np.testing.assert_array_equal(a, b)  # one random_state, one draw
    assert a[50:, 0].std() > 4 * a[50:, 2].std()  # the first target feature stretched, the last squeezed


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"n_source": 2, "n_classes": 3}, "n_source must be an int of at least 3; got 2"),
    ({"n_features": 0}, "n_features must be an int of at least 1; got 0"),
    ({"n_classes": 1}, "n_classes must be an int of at least 2; got 1"),
    ({"rotation": 1.5}, r"rotation must be in \[0, 1\]; got 1.5"),
    ({"stretch": 0.0}, "stretch must be > 0; got 0.0"),
])
def test_shifted_domains_refuse_impossible_shapes(kwargs, message):
    from featx.data import make_shifted_domains

    with pytest.raises(ValueError, match=message):
        make_shifted_domains(**kwargs)
