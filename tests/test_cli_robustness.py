"""The command line on generated malformed input (hypothesis): arguments, manifests, image folders
and cache files, good and broken, in any order. It never ends in a traceback, exits only with
its documented statuses, and never says 0 when it produced nothing."""

import shutil

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from .conftest import make_images  # noqa: E402

# examples per profile (tests/conftest.py): 20 random ones on a developer's machine, 60 fixed in CI
FUZZ = settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

COMMANDS = ["extract", "cache ls", "cache info", "cache verify", "cache rm", "fit", "evaluate", "predict", "compare",
            "rank", "methods", "backbones"]
VALUES = ["-1", "0", "1", "2", "3", "all", "1.5", "nan", "", "x", "auto", "1,2", "a,b", "pooled", "layer1", "none",
          "coral", "ncm", "logreg", "bfloat16", "--", "--json"]  # no -v: it asks for the traceback


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Files to point the command line at: sound and broken data, features and a model."""
    import featx.backbones as backbones
    from featx.cli.main import main

    root = tmp_path_factory.mktemp("world")
    good = make_images(root / "good", per_class=4)
    one_class = make_images(root / "one", classes=("cat",), per_class=3)
    (root / "empty").mkdir()
    (root / "junk.h5").write_bytes(b"junk")
    (root / "junk.png").write_bytes(b"not an image")
    (root / "junk.csv").write_bytes(b"\x00\xff,,\n\n")
    (root / "empty.csv").write_text("path,label\n")
    (root / "header.csv").write_text("file,class\na.png,x\n")
    (root / "missing.csv").write_text("path,label\nnowhere/a.png,x\nnowhere/b.png,y\n")
    (root / "bad.csv").write_text("path,label\njunk.png,x\njunk.png,y\n")
    cut = root / "cut.h5"
    mp = pytest.MonkeyPatch()
    _untrained(mp, backbones)
    try:
        assert main(["extract", str(good), "--cache-dir", str(root / "cache"), "--workers", "0", "--no-progress"]) == 0
        sound = next((root / "cache").rglob("*.h5"))
        shutil.copy(sound, cut)
        with open(cut, "r+b") as fh:
            fh.truncate(cut.stat().st_size // 2)
        assert main(["fit", str(good), "--save", str(root / "model.skops"), "--cache-dir", str(root / "cache"),
                     "--workers", "0", "--no-progress"]) == 0
    finally:
        mp.undo()
    paths = [good, one_class, root / "empty", root / "nowhere", root / "junk.h5", root / "junk.png",
             root / "junk.csv", root / "empty.csv", root / "header.csv", root / "missing.csv", root / "bad.csv", sound,
             cut, root / "model.skops", good / "cat" / "cat_00.png", "builtin:nothing"]
    return root, [str(p) for p in paths]


def _untrained(mp, backbones):
    """Every backbone name builds timm's tiny test network with fixed random weights (no download)."""
    import torch

    real = backbones.create_backbone

    def create(name, *, layers=None, **kwargs):
        torch.manual_seed(0)
        return real("timm:test_resnet", layers=layers, pretrained=False)

    mp.setattr(backbones, "create_backbone", create)


def _options(command):
    from featx.cli.main import build_parser

    parser = build_parser()
    for word in command.split():
        parser = next(a for a in parser._actions if hasattr(a, "choices") and isinstance(a.choices, dict)) \
            .choices[word]
    return sorted(o for o in parser._option_string_actions if o.startswith("--") and o not in ("--help", "--verbose"))


@FUZZ
@given(data=st.data())
def test_generated_command_lines_never_end_in_a_traceback(world, tmp_path, capsys, monkeypatch, data):
    import featx.backbones as backbones
    from featx.cli.main import main

    root, paths = world
    command = data.draw(st.sampled_from(COMMANDS))
    tokens = data.draw(st.lists(st.one_of(st.sampled_from(paths), st.sampled_from(VALUES),
                                          st.sampled_from(_options(command) or ["--version"])), max_size=6))
    fixed = {"compare": ["--methods", "ncm", "--repeats", "1", "--jobs", "1", "--ft-epochs", "1", "--out",
                         str(tmp_path / "report")],
             "rank": ["--scores", "knn"]}.get(command, [])
    if command in ("extract", "fit", "evaluate", "predict", "compare", "rank"):
        fixed += ["--workers", "0", "--no-progress", "--cache-dir", str(tmp_path / "cache")]
    argv = [*command.split(), *tokens, *fixed]
    _untrained(monkeypatch, backbones)
    monkeypatch.chdir(tmp_path)  # what a command writes by default lands here
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
        code = exc.code
    out, err = capsys.readouterr()
    assert "Traceback" not in err, argv
    assert code in (0, 1, 2), (argv, code, err)
    if code == 2:
        assert err.rstrip().splitlines()[-1].startswith("featx: error: "), (argv, err)
    if code == 0:
        assert out.strip(), (argv, err)  # something was produced and said
        if command == "extract" and "--help" not in tokens:
            rows = int(out.split("rows: ")[1].split(" x ")[0])
            assert rows > 0, (argv, out)
