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


def _manifest(tmp_path, rows):
    path = tmp_path / "m.csv"
    path.write_text("path,label\n" + "".join(f"{p},{label}\n" for p, label in rows))
    return path


def _extract(capsys, tmp_path, data):
    return run_cli(capsys, "extract", data, "--backbone", "timm:test_resnet", "--cache-dir", tmp_path / "cache",
                   "--workers", 0, "--no-progress")


def test_a_manifest_whose_files_are_all_missing_is_refused_before_any_work(capsys, tmp_path):
    manifest = _manifest(tmp_path, [("gone/a.png", "x"), ("gone/b.png", "y")])
    code, out, err = _extract(capsys, tmp_path, manifest)
    assert code == 2 and out == "" and not (tmp_path / "cache").exists()
    assert err.startswith("featx: error: None of the 2 image files of 'm' exists (the first: ")


@pytest.fixture
def untrained_timm(monkeypatch):
    """timm models built without downloading weights (seeded random ones), for the command line."""
    import timm
    import torch

    create = timm.create_model

    def untrained(name, **kwargs):
        torch.manual_seed(0)
        return create(name, **{**kwargs, "pretrained": False})

    monkeypatch.setattr(timm, "create_model", untrained)


def test_counts_of_computed_and_cached_rows_are_never_negative(capsys, tmp_path, untrained_timm):
    folder = make_images(tmp_path / "images", per_class=2)
    (tmp_path / "junk.png").write_bytes(b"not an image")
    good = sorted(folder.rglob("*.png"))
    manifest = _manifest(tmp_path, [(p, p.parent.name) for p in good] + [(tmp_path / "junk.png", "cat")])
    for computed, cached in ((4, 0), (0, 4)):
        code, out, err = run_cli(capsys, "extract", manifest, "--backbone", "timm:test_resnet", "--cache-dir",
                                 tmp_path / "cache", "--workers", 0, "--no-progress", "--allow-outside-root")
        assert code == 0 and f"rows: 4 x 96 features ({computed} computed now, {cached} from cache)" in out, err
        assert "skipped 1 unreadable image(s)" in out


def test_a_source_with_no_readable_image_is_an_error_not_an_empty_success(capsys, tmp_path, untrained_timm):
    for name in ("a.png", "b.png"):
        (tmp_path / name).write_bytes(b"not an image")
    code, out, err = _extract(capsys, tmp_path, _manifest(tmp_path, [("a.png", "x"), ("b.png", "y")]))
    assert code == 2 and out == ""
    assert err.startswith("featx: error: None of the 2 images could be read (") and "featx cache info" in err


def test_images_loose_in_a_folder_root_beside_class_folders_are_reported(tmp_path, caplog):
    from featx.data import ImageFolder

    folder = make_images(tmp_path / "images", per_class=2)
    (folder / "cat" / "cat_00.png").rename(folder / "stray.png")
    with caplog.at_level("WARNING", logger="featx"):
        source = ImageFolder(folder)
    assert len(source) == 3
    assert "1 image(s) directly in" in caplog.text and "belong to no class and are left out: stray.png" in caplog.text
    caplog.clear()
    ImageFolder(folder / "cat")  # a folder of images alone: unlabelled, nothing left out
    assert caplog.text == ""


def test_budgets_above_the_smallest_class_are_refused_before_any_fit(tmp_path, capsys, tiny_backbone, monkeypatch):
    fs = _features(30)  # 15 rows per class; 10 or 11 of each stay in the pool after the test rows are held out
    with pytest.raises(ValueError, match=r"Budget\(s\) \[20, 1000\] per class exceed the smallest training class: "
                                         r"'[ab]' has 1[01] labelled image\(s\) after the test rows are held out; "
                                         r"expected budgets up to 1[01], or 'all'\."):
        compare_features(fs, budgets=[1, 20, 1000, "all"], repeats=2, methods=["ncm"], progress=False)
    with pytest.raises(ValueError, match=r"'[ab]' has 15 labelled image\(s\); expected budgets up to 15"):
        compare_features(fs, test=fs, budgets=[16], repeats=2, methods=["ncm"], progress=False)
    assert len(compare_features(fs, test=fs, budgets=[15], repeats=2, methods=["ncm"], progress=False).records) == 2

    import featx.backbones as backbones

    monkeypatch.setattr(backbones, "create_backbone", lambda name, **kw: tiny_backbone)
    folder = make_images(tmp_path / "images")  # 6 per class, 4 in the pool
    code, out, err = run_cli(capsys, "compare", folder, "--budgets", "1000", "--methods", "ncm", "--cache-dir",
                             tmp_path / "cache", "--no-progress", "--out", tmp_path / "report")
    assert code == 2 and "Budget(s) [1000] per class exceed the smallest training class" in err
    assert not (tmp_path / "report").exists()


@pytest.mark.parametrize("budgets, repeats, ft_budgets, ft_repeats", [
    ([1, 5, "all"], 3, None, None), ([1, 5], 4, [5], 2), (["all"], 5, ["all"], 1), ([2], 1, [2], 1)])
def test_the_plan_announced_before_a_comparison_counts_the_fits_it_runs(budgets, repeats, ft_budgets, ft_repeats):
    import re
    from types import SimpleNamespace

    # private: the plan and its tasks, to count what would run without running it
    from featx.evaluate._plan import Plan
    from featx.evaluate._roles import make_tasks

    plan = Plan.check(["logreg", "coral", "ft-last", "lp-ft"], budgets, repeats, "zscore", 0, with_target=True,
                      images=True, ft_epochs=3, ft_budgets=ft_budgets, ft_repeats=ft_repeats)
    tasks = make_tasks(SimpleNamespace(y_train=np.arange(40) % 2, pool=np.arange(40)), plan)
    said = plan.describe()
    fits = int(re.match(r"(\d+) feature fits? ", said).group(1))
    runs = int(re.search(r" and (\d+) fine-tuning runs? of 3 epochs \(ft-last, lp-ft at budgets", said).group(1))
    assert fits == sum(t.rung != "finetuned" for t in tasks) and runs == sum(t.rung == "finetuned" for t in tasks)


def test_compare_says_what_it_will_run_before_it_starts(capsys):
    result = compare_features(_features(), budgets=[1, "all"], repeats=2, methods=["ncm", "logreg"])
    err = capsys.readouterr().err
    assert err.splitlines()[0] == "featx compare will run 6 feature fits (2 models x 3 draws over budgets [1, 'all'])"
    assert len(result.records) == 6
