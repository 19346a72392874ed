"""Cache faults featx survives: a read-only cache folder, a truncated or corrupt file (moved aside,
named, recomputed; nothing cached is lost), Ctrl-C while a batch is committed, a second process
waiting on the lock; and the one-line error of each fault it cannot repair."""

import errno
import logging
import os
import signal
import threading
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from featx.extract import extract_features, read_cache, verify_cache
from featx.extract._cache import CacheWriter, create_cache_file  # private: the writer under a signal
from featx.extract._lock import uninterrupted, write_lock  # private: the lock and the signal guard themselves

from .conftest import flip_feature_byte, run_cli


@pytest.fixture
def checkpoint(tmp_path, tiny_backbone):
    path = tmp_path / "tiny.pth"
    torch.save(tiny_backbone.model.state_dict(), path)
    return path


def extract_args(folder, checkpoint, cache):
    return ["extract", folder, "--backbone", f"file:{checkpoint}", "--arch", "timm:test_resnet", "--cache-dir",
            cache, "--batch-size", 4, "--workers", 0, "--no-progress"]


@pytest.fixture
def read_only(monkeypatch):
    """Make a folder read-only as a read-only medium would be: every open for writing under it
    fails with EROFS (tests run as root, where permission bits do not stop a write), and its
    permission bits are cleared too (which does stop other users)."""
    guarded = []
    real_open = os.open

    def open_(path, flags, *args, **kwargs):
        writes = flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT)
        if writes and any(Path(os.path.abspath(path)).is_relative_to(g) for g in guarded):
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", open_)
    modes = {}

    def make(folder):
        folder = Path(folder).resolve()
        guarded.append(folder)
        for p in [folder, *folder.rglob("*")]:
            modes[p] = p.stat().st_mode
            p.chmod(0o555 if p.is_dir() else 0o444)

    yield make
    for p, mode in modes.items():
        p.chmod(mode)


def test_a_complete_cache_is_read_from_a_read_only_folder_without_a_lock(capsys, image_folder, checkpoint, tmp_path,
                                                                         read_only):
    cache = tmp_path / "cache"
    args = extract_args(image_folder, checkpoint, cache)
    assert run_cli(capsys, *args)[0] == 0
    for lock in cache.rglob("*.lock"):
        lock.unlink()
    read_only(cache)
    code, out, err = run_cli(capsys, *args)
    assert code == 0 and "(0 computed now, 12 from cache)" in out, err
    assert not list(cache.rglob("*.lock"))


def test_rows_still_to_compute_in_a_read_only_folder_are_refused_in_one_line(capsys, image_folder, checkpoint,
                                                                            tmp_path, read_only):
    cache = tmp_path / "cache"
    args = extract_args(image_folder, checkpoint, cache)
    assert run_cli(capsys, *args)[0] == 0
    path = next(cache.rglob("*.h5"))
    with h5py.File(path, "r+") as f:
        f["status"][:5] = 0  # an interrupted run: five rows still pending
    for lock in cache.rglob("*.lock"):
        lock.unlink()
    read_only(cache)
    code, out, err = run_cli(capsys, *args)
    assert code == 2 and out == ""
    assert err.startswith("featx: error: Cannot write the feature cache under") and err.count("\n") == 1
    assert "Read-only file system" in err and "--cache-dir" in err and "FEATX_CACHE_DIR" in err


def _truncate(path):
    with open(path, "r+b") as f:
        f.truncate(path.stat().st_size // 2)


def _zero_header(path):
    data = bytearray(path.read_bytes())
    data[:512] = bytes(512)
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", [_truncate, _zero_header, flip_feature_byte], ids=["truncated", "header", "byte"])
def test_a_damaged_cache_file_is_moved_aside_named_and_recomputed(capsys, caplog, image_folder, checkpoint, tmp_path,
                                                                 damage):
    cache = tmp_path / "cache"
    args = extract_args(image_folder, checkpoint, cache)
    assert run_cli(capsys, *args)[0] == 0
    path = next(cache.rglob("*.h5"))
    sound = read_cache(path)
    damage(path)
    damaged = path.read_bytes()
    with caplog.at_level(logging.WARNING, logger="featx"):
        code, out, err = run_cli(capsys, *args)
    assert code == 0 and "rows: 12 x 96 features (12 computed now, 0 from cache)" in out, err
    aside = [p for p in cache.rglob("*.h5") if p != path]
    assert len(aside) == 1 and ".damaged-" in aside[0].name
    assert aside[0].read_bytes() == damaged  # moved, never deleted
    warning = " ".join(r.getMessage() for r in caplog.records)
    assert str(path) in warning and str(aside[0]) in warning and "featx cache rm" in warning
    assert verify_cache(path) == []
    np.testing.assert_array_equal(read_cache(path).X, sound.X)


def test_extract_features_moves_a_damaged_file_aside_too(tiny_cache, tiny_backbone):
    folder, cache = tiny_cache
    path = next(cache.rglob("*.h5"))
    sound = read_cache(path)
    _truncate(path)
    fs = extract_features(folder, tiny_backbone, cache_dir=cache, progress=False, num_workers=0)
    assert fs.metadata["n_computed"] == 12
    np.testing.assert_array_equal(fs.X, sound.X)
    assert len(list(cache.rglob("*.damaged-*.h5"))) == 1


def test_reading_a_file_whose_block_fails_its_checksum_is_refused_with_the_repair(tiny_cache):
    path = next(tiny_cache[1].rglob("*.h5"))
    flip_feature_byte(path)
    with pytest.raises(OSError, match=r"is damaged: chunk 0 \(rows 0-11\) does not match its checksum\. Delete it "
                                      r"with `featx cache rm"):
        read_cache(path)


def test_cache_info_on_a_truncated_file_is_one_line_with_the_repair(capsys, tiny_cache):
    path = next(tiny_cache[1].rglob("*.h5"))
    _truncate(path)
    code, out, err = run_cli(capsys, "cache", "info", path)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert err.startswith(f"featx: error: Cannot read cache file {str(path)!r}") and "featx cache rm" in err


def test_sound_blocks_of_a_damaged_donor_still_give_their_rows(tmp_path):
    from featx.extract import find_rows

    dim, n = 1 << 17, 12  # 2 MiB / (4 * dim) = 4 rows per checksum block: 3 blocks
    ids = [f"r{i}" for i in range(n)]
    key = {"format": 2, "source": {"name": "a"}}
    path = tmp_path / "a-1.h5"
    create_cache_file(path, key=key, key_hash="k", dim=dim, ids=ids, labels=[0] * n, domains=["d"] * n,
                      classes=["c"], attrs={}, stamps=["s"] * n, locations=[""] * n)
    X = np.random.default_rng(0).normal(size=(n, dim)).astype(np.float32)
    with CacheWriter(path, "k") as writer:
        writer.write(np.arange(n), X)
    with h5py.File(path, "r") as f:
        assert f.attrs["chunk_rows"] == 4
    flip_feature_byte(path, at=4 * (4 * dim) + 8)  # a byte of row 4: the second block
    found = find_rows(tmp_path, {**key, "source": {"name": "b"}}, ids, ["s"] * n, [""] * n)
    np.testing.assert_array_equal(found.found, np.r_[[True] * 4, [False] * 4, [True] * 4])
    np.testing.assert_array_equal(found.X[found.found], X[found.found])


@pytest.fixture
def ctrl_c():
    """Python's own SIGINT handler, as in a program started from a terminal (a background job of
    a non-interactive shell, as CI may run the tests, starts with SIGINT ignored)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_ctrl_c_while_a_batch_is_written_lands_after_it_is_committed(tmp_path, ctrl_c):
    n, dim = 8, 4
    path = tmp_path / "c.h5"
    create_cache_file(path, key={}, key_hash="k", dim=dim, ids=[str(i) for i in range(n)], labels=[0] * n,
                      domains=["d"] * n, classes=["c"], attrs={})
    X = np.arange(n * dim, dtype=np.float32).reshape(n, dim)
    with CacheWriter(path, "k") as writer:
        flush = writer._file.flush
        calls = []

        def flush_then_interrupt():  # Ctrl-C right after the features reach the disk, before their flags
            calls.append(1)
            flush()
            if len(calls) == 1:
                os.kill(os.getpid(), signal.SIGINT)

        writer._file.flush = flush_then_interrupt
        with pytest.raises(KeyboardInterrupt):
            writer.write(np.arange(4), X[:4])
        assert len(calls) >= 2  # the flags were written and flushed before the interrupt was raised
    fs = read_cache(path, partial=True)
    np.testing.assert_array_equal(fs.X, X[:4])


def test_uninterrupted_keeps_an_ignored_sigint_ignored_and_runs_plainly_off_the_main_thread():
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with uninterrupted():
            os.kill(os.getpid(), signal.SIGINT)
    finally:
        signal.signal(signal.SIGINT, previous)
    ran = []

    def off_the_main_thread():
        with uninterrupted():  # signal.signal would raise ValueError here
            ran.append(1)

    thread = threading.Thread(target=off_the_main_thread)
    thread.start()
    thread.join()
    assert ran == [1]


def test_a_process_waiting_on_the_lock_says_what_it_waits_for(tmp_path, caplog):
    from filelock import FileLock

    path = tmp_path / "x.h5"
    held, release = threading.Event(), threading.Event()

    def another_writer():  # another thread stands for another process: filelock refuses one thread twice
        with FileLock(str(path) + ".lock"):
            held.set()
            release.wait(10)

    thread = threading.Thread(target=another_writer)
    thread.start()
    held.wait(10)
    threading.Timer(0.4, release.set).start()
    with caplog.at_level(logging.WARNING, logger="featx"), write_lock(path, notice_after=0.1):
        pass
    thread.join()
    assert f"waiting for {path}.lock: another featx process is filling this cache file" in caplog.text


def test_other_lock_failures_are_not_disguised(tmp_path, monkeypatch):
    def fail(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "open", fail)
    with pytest.raises(OSError, match="No space left"):
        with write_lock(tmp_path / "y.h5"):
            pass
