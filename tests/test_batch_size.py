import pytest
import torch

from featx.extract import extract_features
# private: the batch-size probe behind batch_size='auto', tested as such
from featx.extract._batch import CPU_BATCH_SIZE, auto_batch_size, forward_rate, largest_useful_batch


class Probe:
    """A fake device: ``rate(b)`` images/s, ``None`` above ``fits`` images."""

    def __init__(self, rate, fits=10**9):
        self.rate, self.fits, self.tried = rate, fits, []

    def __call__(self, b):
        self.tried.append(b)
        return None if b > self.fits else self.rate(b)


def test_doubles_until_the_throughput_saturates():
    probe = Probe(lambda b: 10.0 * min(b, 128))
    assert largest_useful_batch(probe) == 128
    assert probe.tried == [32, 64, 128, 256]


def test_stops_below_the_memory_limit_and_at_the_maximum():
    assert largest_useful_batch(Probe(float, fits=300)) == 256
    probe = Probe(float)
    assert largest_useful_batch(probe, maximum=512) == 512 and max(probe.tried) == 512


def test_halves_when_the_first_batch_does_not_fit():
    probe = Probe(float, fits=11)
    assert largest_useful_batch(probe) == 8 and probe.tried == [32, 16, 8]
    with pytest.raises(RuntimeError, match="Not even a batch of 1 image fits"):
        largest_useful_batch(Probe(float, fits=0))
    with pytest.raises(ValueError, match="need 1 <= start <= maximum; got start=64, maximum=32"):
        largest_useful_batch(Probe(float), start=64, maximum=32)


class RunsOutAbove(torch.nn.Module):
    """Raises the out-of-memory error torch raises, for batches above ``limit``."""

    def __init__(self, limit):
        super().__init__()
        self.limit = limit

    def forward(self, x):
        if len(x) > self.limit:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")
        return x.float().mean(dim=(2, 3))


def test_forward_rate_measures_and_reports_what_does_not_fit(tiny_backbone):
    cpu = torch.device("cpu")
    assert forward_rate(tiny_backbone, cpu, "float32", (32, 32), 4, repeats=2) > 0
    model = RunsOutAbove(limit=8)
    assert forward_rate(model, cpu, "float32", (16, 16), 16) is None
    assert largest_useful_batch(lambda b: forward_rate(model, cpu, "float32", (16, 16), b), start=32) == 8


def test_auto_is_the_fixed_cpu_batch_and_is_recorded(image_folder, tiny_backbone, tmp_path):
    assert auto_batch_size(tiny_backbone, torch.device("cpu"), "float32", (32, 32)) == CPU_BATCH_SIZE
    fs = extract_features(image_folder, tiny_backbone, cache_dir=tmp_path, progress=False, num_workers=0)
    assert fs.metadata["batch_size"] == CPU_BATCH_SIZE
