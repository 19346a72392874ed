"""The README's and the quick start's snippets run: Python blocks execute with the embedded
default backbone, and every `featx ...` command line parses."""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", ROOT / "docs" / "quickstart.md"]
#: pages whose Python blocks run on their own, without the backbone (fast)
SELF_CONTAINED = [ROOT / "docs" / "user_guide" / "model_selection.md"]


def blocks(path: Path, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", path.read_text(), flags=re.S)


def command_lines(path: Path) -> list[str]:
    lines = []
    for block in blocks(path, "bash"):
        for line in block.splitlines():
            line = line.split("  #", 1)[0].strip()
            if line.startswith("featx "):
                lines.append(line)
    return lines


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_featx_command_line_parses(page):
    from featx.cli.main import build_parser

    lines = command_lines(page)
    assert lines, f"no featx command in {page.name}"
    parser = build_parser()
    for line in lines:
        try:
            parser.parse_args(shlex.split(line)[1:])
        except SystemExit as exc:
            pytest.fail(f"{page.name}: `{line}` does not parse (exit {exc.code})")


def lay_out_the_named_data(folder: Path) -> None:
    """What the README's train-save-predict snippets name, in their working folder:
    ``hymenoptera_data`` (the shared images, or generated ones of the same layout without
    ../shared) and ``new/IMG_0042.jpg``, one image to predict."""
    import shutil

    from .conftest import SHARED_DATA, make_images

    shared = SHARED_DATA / "hymenoptera_data"
    if shared.is_dir():
        (folder / "hymenoptera_data").symlink_to(shared)
        image = next((shared / "val" / "bees").glob("*.jpg"))
    else:
        make_images(folder / "hymenoptera_data" / "train", classes=("ants", "bees"), per_class=12, fmt="jpg")
        image = next((folder / "hymenoptera_data" / "train" / "bees").glob("*.jpg"))
    (folder / "new").mkdir()
    shutil.copy(image, folder / "new" / "IMG_0042.jpg")


@pytest.mark.slow
def test_readme_train_save_predict_commands_run(tmp_path, tmp_path_factory):
    lay_out_the_named_data(tmp_path)
    env = {**os.environ, "FEATX_CACHE_DIR": str(tmp_path_factory.getbasetemp() / "readme-cache"),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    lines = [line for line in command_lines(ROOT / "README.md") if line.startswith(("featx fit", "featx predict"))]
    assert [line.split()[1] for line in lines] == ["fit", "predict"]
    out = ""
    for line in lines:
        run = subprocess.run(["bash", "-c", line], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
        assert run.returncode == 0, f"`{line}`: {run.stderr[-2000:]}"
        out = run.stdout
    rows = out.strip().splitlines()
    assert rows[0] == "path,prediction_1,probability_1,prediction_2,probability_2" and len(rows) == 2
    assert rows[1].split(",")[1] in ("ants", "bees")


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_python_snippets_run(page, tmp_path, tmp_path_factory):
    code = "\n".join(blocks(page, "python"))
    assert code.strip(), f"no Python block in {page.name}"
    lay_out_the_named_data(tmp_path)
    cache = tmp_path_factory.getbasetemp() / "readme-cache"  # the pages embed the same digits: once
    env = {**os.environ, "FEATX_CACHE_DIR": str(cache), "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    accuracies = [float(x) for x in re.findall(r": (\d\.\d\d)$", out.stdout, flags=re.M)]
    assert accuracies and all(0.0 <= a <= 1.0 for a in accuracies), out.stdout


@pytest.mark.parametrize("page", SELF_CONTAINED, ids=lambda p: p.name)
def test_self_contained_snippets_run(page, tmp_path):
    code = "\n".join(blocks(page, "python"))
    assert code.strip()
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr[-3000:]
