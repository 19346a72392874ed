"""Nonsense is refused before any work, with one line that says what to do; options of the
command line are accepted before or after the subcommand."""

import numpy as np
import pytest

from featx.data import make_shifted_domains
from featx.evaluate import compare, compare_features
from featx.features import FeatureSet
from featx.protocol import stratified_split

from .conftest import make_images, run_cli


def _features(n=30, classes=("a", "b")):
    X, y, _, _ = make_shifted_domains(n, 1, 4, 2, random_state=0)
    X, y = X[:n], np.minimum(y[:n], len(classes) - 1)
    return FeatureSet(X.astype(np.float32), y, np.array([f"r{i}" for i in range(n)]), np.array(["s"] * n), classes)


@pytest.mark.parametrize("fraction", [0, 1, 1.5, -0.2, "0.3"])
def test_held_out_fractions_outside_zero_one_are_refused(fraction):
    with pytest.raises(ValueError, match=r"held-out fraction must be strictly between 0 and 1 \(e\.g\. 0\.3\); got"):
        stratified_split(np.arange(20) % 2, fraction, 0)


def test_compare_refuses_a_test_fraction_of_one_and_a_half_on_the_command_line(tmp_path, capsys):
    folder = make_images(tmp_path / "images")
    code, _, err = run_cli(capsys, "compare", folder, "--test-fraction", "1.5", "--methods", "logreg",
                           "--cache-dir", tmp_path / "cache", "--no-progress")
    assert code == 2 and "held-out fraction must be strictly between 0 and 1" in err


def test_no_jobs_is_refused_with_what_to_pass():
    with pytest.raises(ValueError, match=r"n_jobs=0 would run no fit; pass a number of processes, -1 for one per "):
        compare_features(_features(), budgets="all", repeats=1, methods=["ncm"], n_jobs=0, progress=False)


def test_one_class_is_refused_before_any_image_is_embedded(tmp_path, capsys, tiny_backbone):
    folder = make_images(tmp_path / "images", classes=("cat",))
    with pytest.raises(ValueError, match=r"at least 2 classes; got 1 \(\['cat'\]\)\. Point it at a folder"):
        compare(folder, backbone=tiny_backbone, cache_dir=tmp_path / "cache", methods=["logreg"], progress=False)
    with pytest.raises(ValueError, match=r"at least 2 classes; got 1"):
        compare([folder, folder], backbone=tiny_backbone, cache_dir=tmp_path / "cache", methods=["logreg"],
                progress=False)
    assert not (tmp_path / "cache").exists()  # refused before any extraction
    code, _, err = run_cli(capsys, "compare", folder, "--methods", "logreg", "--cache-dir", tmp_path / "cache",
                           "--no-progress")
    assert code == 2 and "at least 2 classes; got 1 (['cat'])" in err
    with pytest.raises(ValueError, match=r"at least 2 classes; got 1 \(\['a'\]\)"):
        compare_features(_features(classes=("a",)), budgets="all", repeats=1, methods=["ncm"], progress=False)


def test_verbose_and_the_cache_folder_are_taken_before_or_after_the_subcommand(tmp_path, capsys):
    from featx.cli.main import build_parser

    parser = build_parser()
    assert [parser.parse_args(a).verbose for a in (["-v", "methods"], ["methods", "-v"], ["methods", "-vv"],
                                                    ["methods"])] == [1, 1, 2, 0]
    assert parser.parse_args(["extract", "x", "-v"]).verbose == 1
    assert parser.parse_args(["cache", "ls", "--cache-dir", "A"]).cache_dir == "A"
    assert parser.parse_args(["cache", "--cache-dir", "B", "ls"]).cache_dir == "B"
    assert parser.parse_args(["cache", "ls"]).cache_dir is None
    code, out, _ = run_cli(capsys, "cache", "ls", "--cache-dir", tmp_path / "empty")
    assert code == 0 and f"no cache files under {tmp_path / 'empty'}" in out
