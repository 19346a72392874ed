import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from PIL import Image

from featx.backbones import Backbone, create_backbone
from featx.data import ImageFolder, InMemoryImages
from featx.extract import (
    cache_info,
    extract_features,
    load_features,
    read_cache,
    remove_cache,
    verify_cache,
)
# private: the cache writer's chunking and crash states, tested as such
from featx.extract._cache import CacheWriter, chunk_rows
from featx.runtime import ImageDecodeError, aligned_batches, resolve_device

from .conftest import flip_feature_byte, make_images


class ForwardCounter:
    """Counts images passed through Backbone.forward (a short batch's padding, copies of its last
    image, is not counted: those are not rows computed)."""

    def __init__(self, monkeypatch):
        self.images = 0
        self.calls = 0
        real = Backbone.forward

        def counting(bb, x):
            self.calls += 1
            n = len(x)
            while n > 1 and torch.equal(x[n - 2], x[-1]):
                n -= 1
            self.images += n
            return real(bb, x)

        monkeypatch.setattr(Backbone, "forward", counting)


def extract(src, bb, cache_dir, **kw):
    kw.setdefault("progress", False)
    kw.setdefault("num_workers", 0)
    return extract_features(src, bb, cache_dir=cache_dir, **kw)


def test_features_equal_a_direct_forward_pass(image_folder, tiny_backbone, tmp_path):
    fs = extract(image_folder, tiny_backbone, tmp_path / "c", batch_size=5)
    src = ImageFolder(image_folder)
    images = np.stack([tiny_backbone.preprocessing(src.load(i)) for i in range(len(src))])
    with torch.inference_mode():
        direct = tiny_backbone(torch.from_numpy(images).permute(0, 3, 1, 2)).numpy()
    assert fs.X.dtype == np.float32 and fs.X.shape == (12, 96)
    np.testing.assert_allclose(fs.X, direct, rtol=1e-5, atol=1e-5)
    assert list(fs.ids) == src.ids and fs.y.tolist() == src.labels.tolist()
    assert fs.classes == ("cat", "dog") and set(fs.domains) == {"images"}
    assert fs.metadata["n_computed"] == 12 and fs.metadata["key"]["precision"] == "float32"


def test_batched_equals_unbatched_and_runs_are_deterministic(image_folder, tiny_backbone, tmp_path):
    one = extract(image_folder, tiny_backbone, tmp_path / "a", batch_size=1)
    many = extract(image_folder, tiny_backbone, tmp_path / "b", batch_size=8)
    again = extract(image_folder, tiny_backbone, tmp_path / "c", batch_size=8, num_workers=2)
    np.testing.assert_allclose(one.X, many.X, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(many.X, again.X)


def test_cache_hit_runs_no_forward_pass(tiny_cache, tiny_backbone, tmp_path, monkeypatch):
    folder, cache = tiny_cache
    first = read_cache(next(cache.rglob("*.h5")))
    counter = ForwardCounter(monkeypatch)
    second = extract(folder, tiny_backbone, cache)
    assert counter.calls == 0 and second.metadata["n_computed"] == 0
    np.testing.assert_array_equal(first.X, second.X)
    np.testing.assert_array_equal(extract(folder, tiny_backbone, tmp_path / "fresh").X, first.X)
    loaded = load_features(first.metadata["path"])
    np.testing.assert_array_equal(loaded.X, first.X)
    assert list(loaded.ids) == list(first.ids) and loaded.classes == first.classes


@pytest.mark.parametrize("resume_batch", [3, "auto"])  # auto reuses the batch size the file records
def test_resume_after_a_crash_computes_only_pending_rows(image_folder, tiny_backbone, tmp_path, monkeypatch,
                                                         resume_batch):
    reference = extract(image_folder, tiny_backbone, tmp_path / "ref", batch_size=3)
    real_write = CacheWriter.write
    writes = []

    def crash_after_two(self, idx, feats):
        if len(writes) == 2:
            raise KeyboardInterrupt("simulated crash")
        writes.append(len(idx))
        real_write(self, idx, feats)

    monkeypatch.setattr(CacheWriter, "write", crash_after_two)
    with pytest.raises(KeyboardInterrupt):
        extract(image_folder, tiny_backbone, tmp_path / "run", batch_size=3)
    monkeypatch.setattr(CacheWriter, "write", real_write)
    path = next((tmp_path / "run").rglob("*.h5"))
    partial = read_cache(path, partial=True)
    assert len(partial) == 6
    with pytest.raises(ValueError, match="incomplete: 6 of 12 rows"):
        read_cache(path)
    counter = ForwardCounter(monkeypatch)
    resumed = extract(image_folder, tiny_backbone, tmp_path / "run", batch_size=resume_batch)
    assert counter.images == 6 and counter.calls == 2 and resumed.metadata["n_computed"] == 6
    assert resumed.metadata["batch_size"] == 3
    np.testing.assert_array_equal(resumed.X, reference.X)
    assert verify_cache(path) == []


def test_changed_key_never_reuses_features(image_folder, tiny_backbone, tmp_path, monkeypatch):
    base = extract(image_folder, tiny_backbone, tmp_path)
    paths = {base.metadata["path"]}
    bf16 = extract(image_folder, tiny_backbone, tmp_path, precision="bfloat16")
    torch.manual_seed(0)
    layered = create_backbone("timm:test_resnet", pretrained=False, layers=["layer2", "pooled"])
    two = extract(image_folder, layered, tmp_path)
    torch.manual_seed(1)
    other_weights = extract(image_folder, create_backbone("timm:test_resnet", pretrained=False), tmp_path)
    for fs in (bf16, two, other_weights):
        assert fs.metadata["n_computed"] == 12 and fs.metadata["path"] not in paths
        paths.add(fs.metadata["path"])
    assert two.X.shape[1] == 96 + layered.layer_dims[0]
    np.testing.assert_allclose(two.X[:, -96:], base.X, rtol=1e-5, atol=1e-5)
    # a modified image changes the source fingerprint, so the key: a new file, in which only
    # that image is computed (the other rows are copied from the earlier file)
    Image.new("RGB", (30, 30), (9, 9, 9)).save(image_folder / "dog" / "dog_00.png")
    counter = ForwardCounter(monkeypatch)
    changed = extract(image_folder, tiny_backbone, tmp_path)
    assert changed.metadata["path"] not in paths and changed.metadata["n_computed"] == 1 and counter.images == 1
    assert changed.metadata["n_reused"] == 11
    edited = list(changed.ids).index("dog/dog_00.png")
    assert not np.allclose(changed.X[edited], base.X[edited])
    np.testing.assert_array_equal(np.delete(changed.X, edited, 0), np.delete(base.X, edited, 0))
    with pytest.raises(ValueError, match="was written for key"):
        CacheWriter(Path(base.metadata["path"]), "another-key")


def test_added_and_removed_images_extend_the_cache_incrementally(image_folder, tiny_backbone, tmp_path, monkeypatch):
    base = extract(image_folder, tiny_backbone, tmp_path, batch_size=4)
    Image.new("RGB", (30, 30), (200, 9, 9)).save(image_folder / "cat" / "new_a.png")
    Image.new("RGB", (30, 30), (9, 200, 9)).save(image_folder / "dog" / "new_b.png")
    counter = ForwardCounter(monkeypatch)
    grown = extract(image_folder, tiny_backbone, tmp_path, batch_size=4)
    assert counter.images == 2 and grown.metadata["n_computed"] == 2 and grown.metadata["n_reused"] == 12
    old = np.isin(grown.ids, base.ids)
    np.testing.assert_array_equal(grown.X[old], base.X)
    fresh = extract(image_folder, tiny_backbone, tmp_path / "fresh", batch_size=4)
    np.testing.assert_allclose(grown.X, fresh.X, rtol=1e-5, atol=1e-6)  # same images, same network
    (image_folder / "cat" / "cat_00.png").unlink()
    before = counter.images
    shrunk = extract(image_folder, tiny_backbone, tmp_path, batch_size=4)
    assert counter.images == before and shrunk.metadata["n_reused"] == 13 and len(shrunk) == 13
    # a damaged earlier file is not a donor
    (image_folder / "cat" / "cat_01.png").unlink()
    path = Path(shrunk.metadata["path"])
    flip_feature_byte(path)
    for other in tmp_path.rglob("*.h5"):
        if other != path and "fresh" not in str(other):
            other.unlink()
    again = extract(image_folder, tiny_backbone, tmp_path, batch_size=4)
    assert again.metadata["n_reused"] == 0 and again.metadata["n_computed"] == 12


@pytest.mark.parametrize("precision", ["bfloat16", "float16"])
def test_reduced_precision_output_is_float32_and_close(image_folder, tiny_backbone, tmp_path, precision):
    f32 = extract(image_folder, tiny_backbone, tmp_path)
    bf16 = extract(image_folder, tiny_backbone, tmp_path, precision=precision)
    assert bf16.X.dtype == np.float32 and bf16.metadata["key"]["precision"] == precision
    assert bf16.metadata["key"]["float32_first_stage"] == ["conv1", "bn1", "act1"]
    assert "float32_first_stage" not in f32.metadata["key"]
    cos = (f32.X * bf16.X).sum(1) / np.linalg.norm(f32.X, axis=1) / np.linalg.norm(bf16.X, axis=1)
    assert cos.min() > 0.99


def test_in_memory_and_builtin_sources(tiny_backbone, tmp_path):
    arr = np.random.default_rng(0).integers(0, 256, (5, 16, 16), dtype=np.uint8)
    fs = extract(InMemoryImages(arr, labels=list("ababa"), domain="mem"), tiny_backbone, tmp_path)
    assert fs.X.shape == (5, 96) and fs.classes == ("a", "b") and list(fs.domains) == ["mem"] * 5
    digits = extract("builtin:digits", tiny_backbone, tmp_path, batch_size=256)
    assert digits.X.shape == (1797, 96) and digits.ids[0] == "digits/0000"


def test_verify_detects_tampering_and_rm_cleans_up(tiny_cache, tmp_path):
    path = next(tiny_cache[1].rglob("*.h5"))
    assert verify_cache(path) == []
    info = cache_info(path)
    assert info["n_done"] == info["n_samples"] == 12 and info["backbone"]["name"] == "timm:test_resnet"
    with h5py.File(path, "r+") as f:
        f["features"][3, 5] += 1.0
    assert any("does not match its checksum" in p for p in verify_cache(path))
    with h5py.File(path, "r+") as f:
        f["features"][3, 5] = np.nan
        f["chunk_crc"][0] = -1
    assert any("no checksum" in p for p in verify_cache(path))
    with h5py.File(path, "r+") as f:
        del f["ids"]
    assert verify_cache(path) == ["missing datasets ['ids']"]
    path.write_bytes(b"not hdf5")
    assert verify_cache(path)[0].startswith("cannot open as HDF5")
    remove_cache(path)
    assert not path.exists() and not Path(str(path) + ".lock").exists()
    with pytest.raises(ValueError, match="not a featx cache file"):
        remove_cache(tmp_path / "x.txt")


def test_verify_flags_nan_rows(tiny_cache):
    import zlib

    path = next(tiny_cache[1].rglob("*.h5"))
    with h5py.File(path, "r+") as f:
        block = f["features"][:]
        block[0, 0] = np.inf
        f["features"][:] = block
        f["chunk_crc"][0] = zlib.crc32(block.tobytes())
    assert any("NaN or inf" in p for p in verify_cache(path))


def test_decode_error_names_the_file(image_folder, tiny_backbone, tmp_path):
    (image_folder / "cat" / "broken.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(ImageDecodeError, match=r"Cannot decode sample 'cat/broken.png'"):
        extract(image_folder, tiny_backbone, tmp_path, on_error="fail", num_workers=1)  # from a worker process


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"batch_size": 0}, "batch_size must be a positive integer or 'auto'; got 0"),
        ({"batch_size": "big"}, "batch_size must be a positive integer or 'auto'; got 'big'"),
        ({"precision": "int8"}, "precision must be one of"),
        ({"device": "cuda:7" if not torch.cuda.is_available() else "nonsense"}, "device"),
    ],
)
def test_argument_errors(image_folder, tiny_backbone, tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        extract(image_folder, tiny_backbone, tmp_path, **kwargs)


def test_empty_source_is_an_error(tiny_backbone, tmp_path):
    with pytest.raises(ValueError, match="holds no samples"):
        extract(InMemoryImages(np.zeros((0, 8, 8), np.uint8)), tiny_backbone, tmp_path)


def test_auto_precision_follows_the_hardware(tmp_path, monkeypatch):
    from featx.runtime import _device

    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu sse avx2 avx512f\n")
    assert not _device.cpu_has_native_bf16(str(info))
    info.write_text("processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_bf16\n")
    assert _device.cpu_has_native_bf16(str(info))
    assert not _device.cpu_has_native_bf16(str(tmp_path / "absent"))
    monkeypatch.setattr(_device, "cpu_has_native_bf16", lambda: True)
    assert _device.check_precision("auto", torch.device("cpu")) == "bfloat16"
    monkeypatch.setattr(_device, "cpu_has_native_bf16", lambda: False)
    assert _device.check_precision("auto", torch.device("cpu")) == "float32"
    assert _device.auto_precision(torch.device("mps")) == "float16"


def test_auto_precision_is_recorded_as_chosen(image_folder, tiny_backbone, tmp_path, monkeypatch):
    from featx.runtime import _device

    monkeypatch.setattr(_device, "cpu_has_native_bf16", lambda: False)
    f32 = extract(image_folder, tiny_backbone, tmp_path, device="cpu")
    auto = extract(image_folder, tiny_backbone, tmp_path, device="cpu", precision="auto")
    assert auto.metadata["key"]["precision"] == "float32" and auto.metadata["path"] == f32.metadata["path"]
    assert auto.metadata["n_computed"] == 0


def test_resolve_device():
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type in ("cpu", "cuda", "mps")
    assert resolve_device(torch.device("cpu")).type == "cpu"
    with pytest.raises(ValueError, match="device must be"):
        resolve_device("gpu please")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="sees no CUDA GPU"):
            resolve_device("cuda")


def test_aligned_batches_and_chunk_rows():
    assert aligned_batches(np.array([4, 5, 9]), 10, 4) == [[4, 5], [9]]  # only pending rows, by block
    assert aligned_batches(np.arange(10), 10, 4) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert chunk_rows(10, 1280) == 10 and chunk_rows(10**6, 1280) == 256 and chunk_rows(5, 10**7) == 1


_CHILD = """
import sys, time, torch
from featx.backbones import Backbone, create_backbone
from featx.extract import extract_features
real = Backbone.forward
def slow(bb, x):
    time.sleep(0.15)
    return real(bb, x)
Backbone.forward = slow
torch.manual_seed(0)
bb = create_backbone("timm:test_resnet", pretrained=False)
extract_features(sys.argv[1], bb, cache_dir=sys.argv[2], batch_size=2, num_workers=0, progress=False)
"""


@pytest.mark.slow
def test_kill_9_mid_extraction_resumes_bit_identically(tmp_path, tiny_backbone, monkeypatch):
    folder = make_images(tmp_path / "imgs", per_class=10)
    reference = extract(folder, tiny_backbone, tmp_path / "ref", batch_size=2)
    cache = tmp_path / "killed"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.Popen([sys.executable, "-c", _CHILD, str(folder), str(cache)], env=env)
    try:
        deadline = time.time() + 120
        done = 0
        while time.time() < deadline and done < 4:
            time.sleep(0.05)
            files = list(cache.rglob("*.h5"))
            if files:
                try:
                    done = len(read_cache(files[0], partial=True))
                except OSError:
                    pass
        assert done >= 4, "the child never wrote rows"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    path = next(cache.rglob("*.h5"))
    before = read_cache(path, partial=True)
    assert 4 <= len(before) < 20
    counter = ForwardCounter(monkeypatch)
    resumed = extract(folder, tiny_backbone, cache, batch_size=2)
    assert counter.images == 20 - len(before)
    np.testing.assert_array_equal(resumed.X, reference.X)
    assert verify_cache(path) == []


def test_layers_with_a_built_backbone_must_agree(image_folder, tiny_backbone, tmp_path):
    with pytest.raises(ValueError, match="applies to backbone names"):
        extract(image_folder, tiny_backbone, tmp_path, layers=["layer1"])
    assert extract(image_folder, tiny_backbone, tmp_path, layers="pooled").X.shape == (12, 96)


def test_worker_processes_give_the_same_features(image_folder, tiny_backbone, tmp_path):
    threads = extract(image_folder, tiny_backbone, tmp_path / "t", num_workers=0, batch_size=4)
    procs = extract(image_folder, tiny_backbone, tmp_path / "p", num_workers=1, batch_size=4)
    np.testing.assert_array_equal(threads.X, procs.X)


@pytest.mark.slow
def test_readers_during_a_write_see_only_complete_rows(tmp_path, tiny_backbone):
    folder = make_images(tmp_path / "imgs", per_class=10)
    reference = extract(folder, tiny_backbone, tmp_path / "ref", batch_size=2)
    cache = tmp_path / "live"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.Popen([sys.executable, "-c", _CHILD, str(folder), str(cache)], env=env)
    seen = set()
    try:
        deadline = time.time() + 120
        while time.time() < deadline and proc.poll() is None:
            files = list(cache.rglob("*.h5"))
            if files:  # read while the child writes: every row returned is finished and exact
                part = read_cache(files[0], partial=True)
                rows = np.searchsorted(reference.ids, part.ids)
                np.testing.assert_array_equal(part.X, reference.X[rows])
                seen.add(len(part))
            time.sleep(0.02)
        assert proc.wait(timeout=120) == 0
    finally:
        proc.kill()
    assert len(seen - {0, 20}) >= 2  # partial states were observed, not only empty and full


@pytest.mark.slow
def test_a_second_process_on_the_same_key_waits_and_reads(tmp_path, tiny_backbone, monkeypatch):
    folder = make_images(tmp_path / "imgs", per_class=4)
    cache = tmp_path / "shared-cache"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.Popen([sys.executable, "-c", _CHILD, str(folder), str(cache)], env=env)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and not list(cache.rglob("*.h5")):
            time.sleep(0.05)  # the child holds the lock from before the file exists until it is done
        counter = ForwardCounter(monkeypatch)
        fs = extract(folder, tiny_backbone, cache, batch_size=2)
        assert proc.wait(timeout=120) == 0
    finally:
        proc.kill()
    assert counter.calls == 0 and fs.metadata["n_computed"] == 0 and len(fs) == 8


def test_ray_engine_without_ray_says_what_to_install(monkeypatch):
    import sys

    # private: the Ray import guard, patched to simulate Ray missing
    from featx.extract._ray import _ray

    monkeypatch.setitem(sys.modules, "ray", None)  # as if not installed
    with pytest.raises(ImportError, match=r"engine='ray' needs Ray with Ray Data: pip install 'featx\[ray\]'"):
        _ray()


def test_reuse_large_allocations_nests_and_restores():
    import platform

    from featx.runtime import _malloc

    with _malloc.reuse_large_allocations(enabled=False) as active:
        assert active is False
    with _malloc.reuse_large_allocations() as outer:
        assert outer == (platform.system() == "Linux" and platform.libc_ver()[0] == "glibc")
        with _malloc.reuse_large_allocations():
            assert _malloc._depth == (2 if outer else 0)
        assert _malloc._depth == (1 if outer else 0)
        big = np.ones(64 << 20, dtype=np.uint8)  # 64 MB from the heap while inside
        assert big.sum() == 64 << 20
    assert _malloc._depth == 0


@pytest.mark.slow
def test_compiled_forward_pass_has_its_own_key_and_the_same_features(image_folder, tiny_backbone, tmp_path):
    eager = extract(image_folder, tiny_backbone, tmp_path, batch_size=8)
    compiled = extract(image_folder, tiny_backbone, tmp_path, batch_size=8, compile=True)  # 8 + a padded 4
    assert compiled.metadata["key"]["compile"].startswith("inductor-freezing/torch-")
    assert "compile" not in eager.metadata["key"] and compiled.metadata["path"] != eager.metadata["path"]
    assert compiled.metadata["n_computed"] == 12 and list(compiled.ids) == list(eager.ids)
    np.testing.assert_allclose(compiled.X, eager.X, rtol=1e-4, atol=1e-5)
    again = extract(image_folder, tiny_backbone, tmp_path, batch_size=8, compile=True)
    assert again.metadata["n_computed"] == 0


def test_cache_reader_reads_status_metadata_and_rows_from_one_open(image_folder, tiny_backbone, tmp_path):
    from featx.extract import CacheReader
    # private: the reader's row and status plumbing, tested as such
    from featx.extract._reader import read_rows, read_status

    fs = extract_features(image_folder, tiny_backbone, cache_dir=tmp_path, progress=False, num_workers=0)
    path, digest = fs.metadata["path"], cache_info(fs.metadata["path"])["key_hash"]
    with CacheReader(path) as cache:
        assert cache.complete and cache.n_done == cache.n_rows == len(fs) and cache.skipped == []
        assert cache.metadata["key_hash"] == digest and cache.batch_size >= 1
        status, X, errors = cache.rows([1, 3])
        np.testing.assert_array_equal(X, fs.X[[1, 3]])
        assert status.tolist() == [1, 1] and errors == ["", ""]
        np.testing.assert_array_equal(cache.feature_set().X, fs.X)
        assert cache.info()["n_done"] == len(fs)
    assert CacheReader.open_for(path, "another key") is None
    assert CacheReader.open_for(tmp_path / "absent.h5", digest) is None
    assert read_rows(tmp_path / "absent.h5", digest, [0]) is None and read_status(path, "other") is None
    with pytest.raises(OSError):
        CacheReader(tmp_path / "absent.h5")
