from pathlib import Path

import h5py
import pytest
import torch

from featx.cli.main import main

from .conftest import run_cli as run


@pytest.fixture
def checkpoint(tmp_path, tiny_backbone):
    path = tmp_path / "tiny.pth"
    torch.save(tiny_backbone.model.state_dict(), path)
    return path


def test_backbones_lists_names(capsys):
    code, out, _ = run(capsys, "backbones")
    assert code == 0 and "efficientnet_lite0" in out and "timm:<name>" in out


def test_extract_then_cache_commands(capsys, image_folder, checkpoint, tmp_path):
    cache = tmp_path / "cache"
    args = ["extract", image_folder, "--backbone", f"file:{checkpoint}", "--arch", "timm:test_resnet",
            "--cache-dir", cache, "--batch-size", 4, "--workers", 0, "--no-progress"]
    code, out, _ = run(capsys, *args)
    assert code == 0 and "rows: 12 x 96 features (12 computed now, 0 from cache)" in out
    path = out.split("cache file: ")[1].splitlines()[0]
    code, out, _ = run(capsys, *args)
    assert "(0 computed now, 12 from cache)" in out

    code, out, _ = run(capsys, "cache", "--cache-dir", cache, "ls")
    assert code == 0 and "12/12" in out and path in out
    code, out, _ = run(capsys, "cache", "info", path)
    assert code == 0 and '"n_done": 12' in out and "test_resnet" in out
    code, out, _ = run(capsys, "cache", "--cache-dir", cache, "verify")
    assert code == 0 and "1 sound, 0 damaged" in out

    with h5py.File(path, "r+") as f:
        f["features"][0, 0] += 1
    code, out, _ = run(capsys, "cache", "verify", path)
    assert code == 1 and "DAMAGED" in out and "featx cache rm" in out

    code, out, err = run(capsys, "cache", "--cache-dir", cache, "rm")
    assert code == 2 and "takes cache files or --all" in err
    code, out, _ = run(capsys, "cache", "rm", path)
    assert code == 0 and not Path(path).exists()
    code, out, _ = run(capsys, "cache", "--cache-dir", cache, "ls")
    assert "no cache files" in out


def test_extract_layers_and_rm_all(capsys, image_folder, checkpoint, tmp_path):
    cache = tmp_path / "c"
    code, out, _ = run(capsys, "extract", image_folder, "--backbone", f"file:{checkpoint}", "--arch", "test_resnet",
                       "--layer", "layer1", "--layer", "pooled", "--cache-dir", cache, "--workers", 0, "--no-progress")
    assert code == 0 and "x 128 features" in out
    code, out, _ = run(capsys, "cache", "--cache-dir", cache, "rm", "--all")
    assert code == 0 and out.count("removed") == 1


def test_errors_exit_2_with_a_message(capsys, image_folder, tmp_path):
    code, _, err = run(capsys, "extract", image_folder, "--backbone", "efficientnet_lite0", "--arch", "x")
    assert code == 2 and "--arch is only for --backbone file:" in err
    code, _, err = run(capsys, "extract", image_folder, "--backbone", "nope")
    assert code == 2 and "Unknown backbone 'nope'" in err
    code, _, err = run(capsys, "cache", "info", tmp_path / "none.h5")
    assert code == 2 and "No cache file" in err


def test_damaged_file_is_listed_not_fatal(capsys, tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "bad.h5").write_bytes(b"junk")
    code, out, _ = run(capsys, "cache", "--cache-dir", tmp_path, "ls")
    assert code == 0 and "unreadable" in out


@pytest.mark.parametrize("flag, value, message", [("--workers", "many", "a non-negative integer; got 'many'"),
                                                    ("--batch-size", "0", "a positive integer; got '0'")])
def test_bad_workers_or_batch_size_is_an_argparse_error(capsys, image_folder, flag, value, message):
    with pytest.raises(SystemExit):
        main(["extract", str(image_folder), flag, value])
    assert f"expected 'auto' or {message}" in capsys.readouterr().err


def test_extract_compile_and_batch_size_flags_reach_extract_features(capsys, image_folder, checkpoint, tmp_path,
                                                                     monkeypatch):
    import featx.extract

    seen = {}

    def spy(*args, **kwargs):
        seen.update(kwargs)
        raise SystemExit(0)

    monkeypatch.setattr(featx.extract, "extract_features", spy)
    for flags, compiled, batch in [([], False, "auto"), (["--compile", "--batch-size", "64"], True, 64)]:
        with pytest.raises(SystemExit):
            run(capsys, "extract", image_folder, "--backbone", f"file:{checkpoint}", "--arch", "test_resnet",
                "--cache-dir", tmp_path, "--no-progress", *flags)
        assert seen["compile"] is compiled and seen["batch_size"] == batch


@pytest.mark.slow  # three fresh interpreters (4 s each)
@pytest.mark.parametrize("argv", [["methods"], ["backbones"], ["cache", "--cache-dir", "{tmp}", "ls"]])
def test_a_closed_pipe_ends_quietly(argv, tmp_path):
    """``featx methods | head -1``: the reader goes away, featx stops without a traceback and
    exits 141 (128 + SIGPIPE), as Unix tools do."""
    import subprocess
    import sys

    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    proc = subprocess.Popen([sys.executable, "-m", "featx", *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # before featx writes its first line
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141 and err == "", err


def test_input_size_and_backbones_flags_reach_compare_and_extract(capsys, image_folder, tmp_path, monkeypatch):
    import featx.evaluate
    import featx.extract

    seen = {}

    def spy(*args, **kwargs):
        seen.update(kwargs)
        raise SystemExit(0)

    monkeypatch.setattr(featx.evaluate, "compare", spy)
    monkeypatch.setattr(featx.extract, "extract_features", spy)
    with pytest.raises(SystemExit):
        main(["compare", str(image_folder), "--backbones", "efficientnet_lite0,efficientnet_lite1", "--input-size",
              "96"])
    assert seen["backbones"] == "efficientnet_lite0,efficientnet_lite1" and seen["input_size"] == 96
    with pytest.raises(SystemExit):
        main(["extract", str(image_folder), "--input-size", "64", "--cache-dir", str(tmp_path), "--no-progress"])
    assert seen["input_size"] == 64
    with pytest.raises(SystemExit):
        main(["demo", "--input-size", "31"])
    assert "--input-size: expected an int of at least 32 (pixels per side); got '31'" in capsys.readouterr().err
