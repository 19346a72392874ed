"""The Ray engine on a local Ray cluster (2 CPUs): same cache as the local path, killed workers and
drivers resume without recomputing finished rows. Skipped when Ray is not installed."""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

ray = pytest.importorskip("ray")
pytest.importorskip("ray.data")

from featx.backbones import Backbone  # noqa: E402
from featx.extract import extract_features, read_cache  # noqa: E402
# private: the Ray engine's shards and the reader's status, tested as such
from featx.extract._reader import read_status  # noqa: E402
from featx.extract._ray import default_shard_rows, shard_bounds, shard_dir  # noqa: E402

from .conftest import make_images  # noqa: E402

pytestmark = pytest.mark.slow
BATCH = 4
N_READABLE = 40  # and one broken file: 41 rows


class CountingBackbone(Backbone):
    """Logs ``pid rows`` for every forward pass to ``log`` (a file: the actors are other processes)."""

    log = ""
    delay = 0.0

    def forward(self, x):
        time.sleep(self.delay)
        rows = len(x)  # a short batch is padded with copies of its last image: those are not rows
        while rows > 1 and torch.equal(x[rows - 2], x[-1]):
            rows -= 1
        with open(self.log, "a") as fh:
            fh.write(f"{os.getpid()} {rows}\n")
        return super().forward(x)


def counting(backbone, log, delay=0.0):
    """``backbone`` whose folded copy (what extraction runs) logs its forward passes."""
    folded = backbone.folded()
    cls = type("Counting", (CountingBackbone,), {"log": str(log), "delay": delay})
    folded.__class__ = cls
    return backbone


def forward_log(log):
    if not Path(log).exists():
        return []
    return [tuple(map(int, line.split())) for line in Path(log).read_text().splitlines()]


@pytest.fixture(scope="module")
def cluster():
    import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # actors unpickle this module's classes
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


@pytest.fixture
def images(tmp_path):
    root = make_images(tmp_path / "imgs", per_class=20)
    (root / "cat" / "broken.png").write_bytes(b"not an image")
    return root


def ray_extract(src, bb, cache, **options):
    return extract_features(src, bb, cache_dir=cache, batch_size=BATCH, progress=False, engine="ray",
                            engine_options={"workers": 2, "shard_rows": 8, **options})


def test_shard_bounds_cover_the_pending_rows_in_batch_aligned_blocks():
    assert shard_bounds(np.array([0, 1, 9, 10, 23]), 25, 8) == [(0, 8), (8, 16), (16, 24)]
    assert shard_bounds(np.array([24]), 25, 8) == [(24, 25)]
    assert default_shard_rows(1_000_000, 8, 32) == 8192 and default_shard_rows(100, 2, 32) == 256
    assert default_shard_rows(10_000, 2, 48) % 48 == 0


def test_ray_engine_writes_the_local_cache_file_bit_for_bit(cluster, images, tiny_backbone, tmp_path):
    local = extract_features(images, tiny_backbone, cache_dir=tmp_path / "local", batch_size=BATCH, progress=False,
                             num_workers=0)
    remote = ray_extract(images, tiny_backbone, tmp_path / "ray")
    assert Path(remote.metadata["path"]).relative_to(tmp_path / "ray") == \
        Path(local.metadata["path"]).relative_to(tmp_path / "local")
    assert remote.metadata["key"] == local.metadata["key"] and remote.metadata["n_computed"] == 40  # 41, 1 unreadable
    np.testing.assert_array_equal(remote.X, local.X)
    assert list(remote.ids) == list(local.ids) and list(remote.y) == list(local.y)
    assert remote.metadata["skipped"] == local.metadata["skipped"] and len(remote.metadata["skipped"]) == 1
    assert not shard_dir(Path(remote.metadata["path"])).exists()  # merged, then removed
    again = ray_extract(images, tiny_backbone, tmp_path / "ray")
    assert again.metadata["n_computed"] == 0


def test_engine_options_are_checked(images, tiny_backbone, tmp_path):
    with pytest.raises(ValueError, match=r"engine must be 'local' or 'ray'; got 'spark'"):
        extract_features(images, tiny_backbone, cache_dir=tmp_path, engine="spark")
    with pytest.raises(ValueError, match=r"Unknown engine_options \['nodes'\] for engine 'ray'"):
        extract_features(images, tiny_backbone, cache_dir=tmp_path, engine="ray", engine_options={"nodes": 3})
    with pytest.raises(ValueError, match=r"Unknown engine_options \['workers'\] for engine 'local'"):
        extract_features(images, tiny_backbone, cache_dir=tmp_path, engine_options={"workers": 3})


def test_bad_shard_size_and_worker_count_are_refused(cluster, images, tiny_backbone, tmp_path):
    with pytest.raises(ValueError, match=r"shard_rows must be a multiple of batch_size \(4\); got 6"):
        ray_extract(images, tiny_backbone, tmp_path, shard_rows=6)
    with pytest.raises(ValueError, match=r"workers must be a positive integer; got 0"):
        ray_extract(images, tiny_backbone, tmp_path, workers=0)
    with pytest.raises(ValueError, match=r"gpus_per_worker must be >= 0; got -1"):
        ray_extract(images, tiny_backbone, tmp_path, gpus_per_worker=-1)


def _kill_one_actor_after_first_rows(cache: Path, log: Path, killed: list):
    """SIGKILL the actor process that ran the latest forward pass, once some shard has finished rows."""
    deadline = time.time() + 120
    while time.time() < deadline:
        for shard in cache.rglob("*.shards/*.h5"):
            status = read_status(shard, _key_hash(shard))
            passes = forward_log(log)
            if status is not None and (status == 1).any() and passes:
                pid = passes[-1][0]
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                return
        time.sleep(0.05)


def _key_hash(shard: Path) -> str:
    import h5py

    try:
        with h5py.File(shard, "r", locking=False) as f:
            return str(f.attrs["key_hash"])
    except (OSError, KeyError):
        return ""


def test_a_killed_worker_is_restarted_and_recomputes_only_its_unfinished_batch(cluster, images, tiny_backbone,
                                                                                 tmp_path):
    reference = extract_features(images, tiny_backbone, cache_dir=tmp_path / "ref", batch_size=BATCH,
                                 progress=False, num_workers=0)
    log = tmp_path / "forward.log"
    bb = counting(tiny_backbone, log, delay=0.3)
    killed = []
    killer = threading.Thread(target=_kill_one_actor_after_first_rows, args=(tmp_path / "ray", log, killed))
    killer.start()
    fs = ray_extract(images, bb, tmp_path / "ray")
    killer.join()
    assert killed, "no actor was killed: the run ended before any shard had rows"
    passes = forward_log(log)
    assert len({pid for pid, _ in passes} - set(killed)) >= 1  # the work went on in another process
    computed = sum(rows for _, rows in passes)
    # every readable image once, plus at most the batch the killed actor had in flight
    assert N_READABLE <= computed <= N_READABLE + BATCH, passes
    np.testing.assert_array_equal(fs.X, reference.X)
    assert list(fs.ids) == list(reference.ids)


_DRIVER = """
import sys, time, torch
sys.path.insert(0, sys.argv[4])
import cloudpickle
import featx.backbones as backbones
import tests.test_ray
from tests.test_ray import counting
cloudpickle.register_pickle_by_value(tests.test_ray)
from featx.cli.main import main
torch.manual_seed(0)
bb = counting(backbones.create_backbone("timm:test_resnet", pretrained=False), sys.argv[3], delay=0.3)
backbones.create_backbone = lambda name, **kw: bb
main(["extract", sys.argv[1], "--cache-dir", sys.argv[2], "--batch-size", "4", "--engine", "ray",
      "--address", sys.argv[5], "--workers", "2", "--no-progress"])
"""


def test_a_killed_driver_resumes_without_recomputing_finished_rows(cluster, images, tiny_backbone, tmp_path):
    reference = extract_features(images, tiny_backbone, cache_dir=tmp_path / "ref", batch_size=BATCH,
                                 progress=False, num_workers=0)
    cache, log = tmp_path / "ray", tmp_path / "forward.log"
    repo = str(Path(__file__).resolve().parents[1])
    proc = subprocess.Popen([sys.executable, "-c", _DRIVER, str(images), str(cache), str(log), repo, cluster],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 180
        while time.time() < deadline and sum(r for _, r in forward_log(log)) < 12:
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    time.sleep(2)  # Ray ends the dead driver's actors
    [main_file] = [p for p in cache.rglob("*.h5") if ".shards" not in str(p)]
    finished = 0
    for shard in shard_dir(main_file).glob("*.h5"):
        status = read_status(shard, _key_hash(shard))
        finished += int((status == 1).sum()) if status is not None else 0
    assert finished >= 8, "the driver was killed before any shard had rows"
    log.unlink()
    fs = ray_extract(images, counting(tiny_backbone, log), cache)
    resumed = sum(rows for _, rows in forward_log(log))
    assert resumed == N_READABLE - finished
    np.testing.assert_array_equal(fs.X, reference.X)
    assert fs.metadata["skipped"] == reference.metadata["skipped"]
    assert read_cache(fs.metadata["path"]).X.shape == reference.X.shape


def test_cli_checks_the_engine_flags(images, tmp_path, capsys):
    from featx.cli.main import main

    assert main(["extract", str(images), "--cache-dir", str(tmp_path), "--address", "auto"]) == 2
    assert "--address and --gpus-per-worker are for --engine ray; got --engine local" in capsys.readouterr().err
    assert main(["extract", str(images), "--cache-dir", str(tmp_path), "--engine", "ray", "--workers", "0"]) == 2
    assert "--workers for --engine ray is a number of actors, at least 1; got 0" in capsys.readouterr().err
