"""``featx fit IMAGES --save`` then ``featx predict MODEL IMAGES``: one model file, new images labelled."""

import csv
import io
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from featx.backbones import create_backbone
from featx.extract import extract_features
from featx.persist import load_model

from .conftest import make_images
from .conftest import run_cli as run



@pytest.fixture
def tiny(tmp_path):
    """``--backbone file:tiny.pth --arch timm:test_resnet``: the tiny test network with fixed weights."""
    torch.manual_seed(0)
    torch.save(create_backbone("timm:test_resnet", pretrained=False).model.state_dict(), tmp_path / "tiny.pth")
    return ["--backbone", f"file:{tmp_path / 'tiny.pth'}", "--arch", "timm:test_resnet", "--workers", "0",
            "--batch-size", "4", "--no-progress", "--cache-dir", tmp_path / "cache"]


@pytest.fixture
def data(tmp_path):
    train = make_images(tmp_path / "train", per_class=10, seed=0)
    new = make_images(tmp_path / "new", per_class=3, seed=1)
    return train, new


def rows_of(text):
    return list(csv.DictReader(io.StringIO(text)))


def test_fit_on_a_folder_saves_a_model_that_predicts_new_images(capsys, tiny, data, tmp_path):
    train, new = data
    model = tmp_path / "m.skops"
    code, out, err = run(capsys, "fit", train, "--save", model, *tiny)
    assert code == 0, err
    assert "source rows: 20, target rows: 0" in out and "logreg (scale zscore), source only" in out
    files = sorted(str(p) for p in new.rglob("*.png"))
    code, out, err = run(capsys, "predict", model, *files[::-1], *tiny[-2:])
    assert code == 0, err
    rows = rows_of(out)
    assert [r["path"] for r in rows] == [str(Path(f).resolve()) for f in files[::-1]]  # input order
    assert {r["prediction"] for r in rows} <= {"cat", "dog"} and all(0.5 <= float(r["probability"]) <= 1 for r in rows)
    # a folder, to a file, with the top 2
    code, _, err = run(capsys, "predict", model, new, "--out", tmp_path / "p.csv", "--top-k", "2", *tiny[-2:])
    assert code == 0 and "wrote 6 predictions" in err
    top = list(csv.DictReader(open(tmp_path / "p.csv")))
    assert list(top[0]) == ["path", "prediction_1", "probability_1", "prediction_2", "probability_2"]
    by_path = {r["path"]: r for r in rows}
    for r in top:
        assert r["prediction_1"] == by_path[r["path"]]["prediction"]
        assert abs(float(r["probability_1"]) + float(r["probability_2"]) - 1) < 1e-5
    # the same predictions from Python, image by image
    loaded = load_model(model)
    assert [loaded.predict([f])[0] for f in files[::-1]] == [r["prediction"] for r in rows]


def test_a_model_fitted_with_a_target_predicts_new_target_images_as_evaluate_scores_them(capsys, tiny, tmp_path):
    train = make_images(tmp_path / "train", per_class=10, seed=0)
    target = make_images(tmp_path / "target", per_class=10, seed=2)
    model = tmp_path / "coral.skops"
    code, out, err = run(capsys, "fit", "--source", train, "--target", target, "--method", "coral", "--save", model,
                         *tiny)
    assert code == 0, err
    fit_acc = float(out.split("target accuracy ")[1].split("%")[0])
    code, out, err = run(capsys, "predict", model, target, *tiny[-2:])
    rows = rows_of(out)
    acc = 100 * np.mean([r["prediction"] == Path(r["path"]).parent.name for r in rows])
    assert code == 0 and len(rows) == 20 and f"{acc:.2f}" == f"{fit_acc:.2f}"
    code, out, _ = run(capsys, "evaluate", "--source", train, "--target", target, "--methods", "coral", "--heads",
                       "logreg", "--jobs", "1", *tiny)
    assert code == 0 and f"| coral | logreg | {fit_acc:.2f} |" in out


def test_unreadable_images_are_reported_and_skipped(capsys, tiny, data, tmp_path):
    train, new = data
    model = tmp_path / "m.skops"
    assert run(capsys, "fit", train, "--save", model, *tiny)[0] == 0
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG not really")
    good = sorted(str(p) for p in new.rglob("*.png"))[:2]
    code, out, err = run(capsys, "predict", model, good[0], broken, good[1], *tiny[-2:])
    assert code == 0 and [r["path"] for r in rows_of(out)] == [str(Path(g).resolve()) for g in good]
    assert "skipped unreadable" in err and "broken.png" in err
    code, out, err = run(capsys, "predict", model, broken, *tiny[-2:])
    assert code == 2 and "None of the 1 images could be read" in err


def test_refusals(capsys, tiny, data, tmp_path):
    train, new = data
    model = tmp_path / "m.skops"
    assert run(capsys, "fit", train, "--save", model, *tiny)[0] == 0
    code, _, err = run(capsys, "predict", model, new, "--top-k", "0", *tiny[-2:])
    assert code == 2 and "--top-k must be a positive integer; got 0" in err
    code, _, err = run(capsys, "predict", tmp_path / "missing.skops", new)
    assert code == 2 and "No model file at" in err
    # features of another network: refused, naming both
    torch.manual_seed(3)
    other = extract_features(new, create_backbone("timm:test_resnet", pretrained=False), cache_dir=tmp_path / "o",
                             num_workers=0, progress=False)
    code, _, err = run(capsys, "predict", model, other.metadata["path"])
    assert code == 2 and "The model was fitted on features of file:" in err and "these features come from timm:" in err
    # a fit over cache files of two networks
    torch.manual_seed(0)
    same = extract_features(train, create_backbone("timm:test_resnet", pretrained=False), cache_dir=tmp_path / "o",
                            num_workers=0, progress=False)
    code, _, err = run(capsys, "fit", "--source", same.metadata["path"], "--target", other.metadata["path"])
    assert code == 2 and "featx fit needs features computed one way" in err
    # a target too small for per-domain z-scoring; --scale none fits it
    one = tmp_path / "one"
    one.mkdir()
    Image.new("RGB", (30, 30), (9, 9, 9)).save(one / "x.png")
    code, _, err = run(capsys, "fit", "--source", train, "--target", one, *tiny)
    assert code == 2 and "needs at least 10 rows in every target domain" in err and "{-2: 1}" in err
    code, out, _ = run(capsys, "fit", "--source", train, "--target", one, "--scale", "none", "--method", "logreg",
                       *tiny)
    assert code == 0 and "target rows: 1" in out
    code, _, err = run(capsys, "fit", *tiny)
    assert code == 2 and "Nothing to fit on" in err
    code, _, err = run(capsys, "fit", new / "cat", *tiny)  # a folder of one class, no sub-folders
    assert code == 2 and "at least 2 classes" in err
    code, _, err = run(capsys, "fit", train, "--predictions", tmp_path / "p.csv", *tiny)
    assert code == 2 and "there is no --target" in err


def test_manifests_with_absolute_paths_when_asked(capsys, tiny, data, tmp_path):
    train, _ = data
    manifest = tmp_path / "lists" / "train.csv"
    manifest.parent.mkdir()
    with open(manifest, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["path", "label"])
        for p in sorted(train.rglob("*.png")):
            w.writerow([str(p.resolve()), p.parent.name])
    code, _, err = run(capsys, "fit", manifest, *tiny)
    assert code == 2 and "resolves outside the data root" in err
    code, out, err = run(capsys, "fit", manifest, "--allow-outside-root", "--save", tmp_path / "m.skops", *tiny)
    assert code == 0 and "source rows: 20" in out, err


def test_a_fine_tuned_model_predicts_through_the_same_command(capsys, data, tmp_path):
    from featx.finetune import FineTuneClassifier
    from featx.persist import save_model

    train, new = data
    torch.manual_seed(0)
    ft = FineTuneClassifier(create_backbone("timm:test_resnet", pretrained=False), "all", epochs=1, batch_size=4,
                            progress=False, validation_fraction=0.0, num_workers=0).fit(train)
    files = sorted(str(p) for p in new.rglob("*.png"))
    batch = ft.predict_proba(files)
    alone = np.vstack([ft.predict_proba([f]) for f in files])
    np.testing.assert_array_equal(alone, batch)  # padded batches: one image as among others
    path = save_model(ft, tmp_path / "ft.skops")
    loaded = load_model(path)
    np.testing.assert_array_equal(loaded.predict_proba(files), batch)
    assert list(loaded.classes_) == ["cat", "dog"]
    code, out, err = run(capsys, "predict", path, *files)
    assert code == 0, err
    assert [r["prediction"] for r in rows_of(out)] == list(ft.predict(files))


def test_extract_takes_a_manifest_with_absolute_paths_when_asked(capsys, tiny, data, tmp_path):
    train, _ = data
    manifest = tmp_path / "lists" / "abs.csv"  # its folder holds no image: every path leaves it
    manifest.parent.mkdir()
    rows = (f"{p.resolve()},{p.parent.name}\n" for p in sorted(train.rglob("*.png")))
    manifest.write_text("path,label\n" + "".join(rows))
    code, _, err = run(capsys, "extract", manifest, *tiny)
    assert code == 2 and "--allow-outside-root" in err
    code, out, err = run(capsys, "extract", manifest, "--allow-outside-root", *tiny)
    assert code == 0 and "rows: 20 x 96 features" in out, err
