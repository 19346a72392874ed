"""Conventions of the command line: one error model (``featx: error:``, exit 2, no traceback),
verbosity that shows featx's own messages only, progress as a bar on a terminal and as plain
lines elsewhere."""

import io
import logging

import numpy as np
import pytest

from featx.cli.main import EXPECTED, USAGE, _Formatter, configure_logging, main, one_line
from featx.utils.progress import PlainProgress, progress_bar

from .conftest import run_cli


@pytest.fixture
def restore_logging():
    featx, root = logging.getLogger("featx"), logging.getLogger()
    levels, handlers = (featx.level, root.level), list(root.handlers)
    yield
    featx.setLevel(levels[0])
    root.setLevel(levels[1])
    root.handlers[:] = handlers


@pytest.mark.parametrize("verbose, featx_level", [(0, logging.WARNING), (1, logging.INFO), (2, logging.DEBUG),
                                                  (5, logging.DEBUG)])
def test_verbosity_raises_featx_own_level_and_leaves_other_libraries_at_warning(restore_logging, verbose,
                                                                                featx_level):
    configure_logging(verbose)
    assert logging.getLogger("featx.extract._api").getEffectiveLevel() == featx_level
    for other in ("filelock", "h5py", "PIL", "torch", "matplotlib"):
        assert logging.getLogger(other).getEffectiveLevel() == logging.WARNING


def test_log_lines_say_featx_and_the_level_only_when_it_matters():
    def record(level, name="featx.extract._lock"):
        return logging.LogRecord(name, level, __file__, 1, "moved %s aside", ("x.h5",), None)

    plain, debug = _Formatter(debug=False), _Formatter(debug=True)
    assert plain.format(record(logging.INFO)) == "featx: moved x.h5 aside"
    assert plain.format(record(logging.WARNING)) == "featx: warning: moved x.h5 aside"
    assert debug.format(record(logging.DEBUG)) == "DEBUG featx.extract._lock: moved x.h5 aside"


def test_expected_faults_end_in_one_line_with_one_prefix(capsys, tmp_path, image_folder):
    code, out, err = run_cli(capsys, "cache", "info", tmp_path / "none.h5")
    assert (code, out) == (USAGE, "") and err.startswith("featx: error: No cache file at") and err.count("\n") == 1
    code, _, err = run_cli(capsys, "extract", image_folder, "--backbone", "nope")
    assert code == USAGE and err.startswith("featx: error: Unknown backbone 'nope'")
    code, _, err = run_cli(capsys, "extract", tmp_path / "nowhere")
    assert code == USAGE and err.startswith("featx: error: Cannot read data from ")


def test_usage_errors_take_the_same_prefix(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["cache", "ls", "--json", "photos/train"])
    err = capsys.readouterr().err
    assert exit_.value.code == USAGE and err.splitlines()[-1] == (
        "featx: error: argument --json: expected nothing (JSON on stdout), '-' or a FILE.json; got 'photos/train'")


def test_one_line_joins_a_multi_line_message_and_names_os_errors():
    assert one_line(ValueError("expected a\n  b")) == "expected a b"
    assert one_line(PermissionError(13, "Permission denied")) == "[Errno 13] Permission denied (PermissionError)"
    assert all(issubclass(e, Exception) for e in EXPECTED)


def test_with_v_the_traceback_is_shown(tmp_path):
    with pytest.raises(FileNotFoundError, match="No cache file"):
        main(["cache", "info", str(tmp_path / "none.h5"), "-v"])


def test_ctrl_c_exits_130_with_what_was_saved(capsys, monkeypatch):
    from featx.cli import _cache

    def interrupted(args):
        raise KeyboardInterrupt("3 of 9 rows are saved in x.h5; run the same command again to compute the rest")

    monkeypatch.setattr(_cache, "run_ls", interrupted)
    code, out, err = run_cli(capsys, "cache", "ls")
    assert code == 130 and err == ("featx: interrupted: 3 of 9 rows are saved in x.h5; run the same command again "
                                   "to compute the rest\n")
    monkeypatch.setattr(_cache, "run_ls", lambda args: (_ for _ in ()).throw(KeyboardInterrupt()))
    code, _, err = run_cli(capsys, "cache", "ls")
    assert code == 130 and "run the same command again to resume" in err


class _Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_plain_progress_writes_whole_lines_every_few_seconds_and_at_the_end():
    stream, clock = io.StringIO(), _Clock()
    bar = PlainProgress(total=100, desc="extract digits with efficientnet_lite0", unit="img", stream=stream,
                        every=10, clock=clock)
    for _ in range(10):
        clock.now += 2
        bar.update(5)
    bar.set_postfix(loss="0.31")
    bar.close()
    bar.close()
    lines = stream.getvalue().splitlines()
    assert "\r" not in stream.getvalue() and len(lines) == 3  # at 10 s, at 20 s, at the end
    assert lines[0] == "extract digits with efficientnet_lite0: 25/100 (25%), 2.5 img/s, 30 s left"
    assert lines[-1] == "extract digits with efficientnet_lite0: 50/100 (50%), 2.5 img/s, 20 s left, loss 0.31"
    again = io.StringIO()
    bar = PlainProgress(total=4, desc="fits", unit="fit", stream=again, every=10, clock=clock)
    clock.now += 10
    bar.update(4)
    bar.close()  # the last line already said 4/4: not said twice
    assert again.getvalue().count("fits: 4/4") == 1


def test_a_terminal_gets_a_bar_anything_else_plain_lines_and_disable_writes_nothing():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    from tqdm.auto import tqdm

    bar = progress_bar(total=3, desc="d", unit="img", stream=Terminal())
    assert isinstance(bar, tqdm)
    bar.close()
    assert isinstance(progress_bar(total=3, desc="d", unit="img", stream=io.StringIO()), PlainProgress)
    quiet = io.StringIO()
    with progress_bar(total=3, desc="d", unit="img", stream=quiet, disable=True) as bar:
        bar.update(3)
    assert quiet.getvalue() == ""


def test_a_stream_that_went_away_stops_plain_progress_quietly():
    stream = io.StringIO()
    bar = PlainProgress(total=2, desc="d", unit="fit", stream=stream, every=0)
    stream.close()
    bar.update()
    bar.close()
    assert bar.disable


def test_cache_ls_json_lists_sound_and_damaged_files(capsys, tiny_cache):
    import json

    cache = tiny_cache[1]
    (cache / "junk.h5").write_bytes(b"junk")
    code, out, err = run_cli(capsys, "cache", "ls", "--cache-dir", cache, "--json")
    entries = {e["path"]: e for e in json.loads(out)}
    sound = next(e for e in entries.values() if e["problem"] is None)
    assert code == 0 and len(entries) == 2 and "rows" in err
    assert (sound["rows_done"], sound["rows"], sound["dim"], sound["backbone"]) == (12, 12, 96, "timm:test_resnet")
    assert entries[str(cache / "junk.h5")]["problem"].startswith("unreadable: ")
    report = cache / "out" / "ls.json"
    code, out, err = run_cli(capsys, "cache", "ls", "--cache-dir", cache, "--json", report)
    assert json.loads(report.read_text()) == list(entries.values()) and f"wrote {report}" in out


@pytest.mark.parametrize("command", [["compare"], ["rank"], ["demo", "--n-samples", "20"]])
def test_compare_rank_and_demo_take_the_extraction_options(capsys, monkeypatch, image_folder, tmp_path, command):
    import featx.backbones as backbones
    import featx.extract

    class Reached(Exception):
        pass

    def extract_features(source, backbone, **kwargs):
        raise Reached(kwargs)

    monkeypatch.setattr(backbones, "create_backbone", lambda *a, **k: pytest.fail("no backbone is built here"))
    monkeypatch.setattr(featx.extract, "extract_features", extract_features)
    class Named(str):  # a backbone name standing in for the backbone, at any input size
        def at_input_size(self, size):
            return self

        name = property(str)

    monkeypatch.setattr(backbones, "backbone_with", lambda name, layers=None: Named(name))
    data = [] if command[0] == "demo" else [image_folder]
    with pytest.raises(Reached) as reached:
        main([*command, *map(str, data), "--batch-size", "7", "--workers", "0", "--precision", "bfloat16",
              "--cache-dir", str(tmp_path / "c"), "--no-progress"])
    kwargs = reached.value.args[0]
    assert (kwargs["batch_size"], kwargs["num_workers"], kwargs["precision"]) == (7, 0, "bfloat16")


def test_a_feature_set_reads_in_one_line(tiny_cache):
    from featx.extract import read_cache
    from featx.features import FeatureSet

    fs = read_cache(next(tiny_cache[1].rglob("*.h5")))
    text = repr(fs)
    assert "\n" not in text and len(text) < 300
    assert text.startswith("FeatureSet(12 rows x 96 features, classes ['cat', 'dog'], domains ['images'], 12 labelled, "
                           "backbone timm:test_resnet, from ")
    many = FeatureSet(np.zeros((8, 2), np.float32), np.arange(8), np.arange(8).astype(str),
                      np.array([f"d{i}" for i in range(8)]), tuple(f"c{i}" for i in range(8)))
    assert "classes ['c0', 'c1', 'c2', 'c3', 'c4', ... 3 more]" in repr(many)
