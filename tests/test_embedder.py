"""featx.Embedder: images in any form -> one cached row per input, in a scikit-learn pipeline."""

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline

import featx
from featx.backbones import create_backbone
from featx.data import ImageFiles, ImageFolder, open_source
from featx.extract import Embedder, extract_features, find_rows
from featx.runtime import ImageDecodeError
from featx.persist import load_model, save_model

from .conftest import flip_feature_byte, make_images
from .test_extract import ForwardCounter

TINY = {"backbone": "timm:test_resnet", "backbone_options": {"pretrained": False}, "num_workers": 0,
        "batch_size": 4}


def embedder(cache_dir, **kw):
    torch.manual_seed(0)  # the tiny test network's random weights: the same ones every build
    return Embedder(**{**TINY, "cache_dir": cache_dir, **kw}).fit()


@pytest.fixture
def tiny_file(tmp_path):
    """Embedder keywords of the tiny network with fixed weights (a ``file:`` checkpoint), so every
    clone a cross-validation fits builds the same network, as with pretrained weights."""
    torch.manual_seed(0)
    model = create_backbone("timm:test_resnet", pretrained=False).model
    torch.save(model.state_dict(), tmp_path / "tiny.pth")
    return {**TINY, "backbone": f"file:{tmp_path / 'tiny.pth'}", "backbone_options": {"arch": "timm:test_resnet"}}


def files(folder: Path) -> tuple[list[str], list[str]]:
    paths = sorted(str(p) for p in folder.rglob("*.png"))
    return paths, [Path(p).parent.name for p in paths]


@pytest.fixture
def folder(tmp_path):
    return make_images(tmp_path / "imgs", per_class=8)


def test_paths_already_embedded_in_a_folder_are_read_not_computed(folder, tmp_path, tiny_backbone, monkeypatch):
    whole = extract_features(folder, tiny_backbone, cache_dir=tmp_path / "c", num_workers=0, progress=False)
    paths, _ = files(folder)
    counter = ForwardCounter(monkeypatch)
    e = embedder(tmp_path / "c")
    shuffled = paths[::-1]
    X = e.transform(shuffled)
    assert counter.images == 0 and X.shape == (16, 96) and X.dtype == np.float32
    rows = {sid: i for i, sid in enumerate(whole.ids)}
    np.testing.assert_array_equal(X, whole.X[[rows[str(Path(p).relative_to(folder))] for p in shuffled]])
    before = sorted((tmp_path / "c").rglob("*.h5"))
    np.testing.assert_array_equal(e.transform(shuffled), X)  # again: no new file
    assert sorted((tmp_path / "c").rglob("*.h5")) == before


def test_new_images_are_computed_once_and_a_path_twice_gives_two_equal_rows(folder, tmp_path, monkeypatch):
    paths, _ = files(folder)
    e = embedder(tmp_path / "c")
    counter = ForwardCounter(monkeypatch)
    X = e.transform([paths[3], paths[0], paths[3]])
    assert counter.images == 2 and np.array_equal(X[0], X[2])
    files_before = sorted((tmp_path / "c").rglob("*.h5"))
    all_rows = e.transform(paths)
    assert counter.images == 16  # 14 new ones; the two cached ones read back
    np.testing.assert_array_equal(all_rows[[3, 0]], X[:2])
    assert len(sorted((tmp_path / "c").rglob("*.h5"))) == len(files_before) + 1


def test_an_image_alone_gets_the_features_it_gets_in_a_batch(folder, tmp_path):
    paths, _ = files(folder)
    batch = embedder(tmp_path / "batch").transform(paths)
    alone = np.vstack([embedder(tmp_path / f"alone{i}").transform([p]) for i, p in enumerate(paths[:5])])
    np.testing.assert_array_equal(alone, batch[:5])


def test_pil_images_arrays_and_sources_are_embedded(folder, tmp_path, tiny_backbone):
    paths, _ = files(folder)
    e = embedder(tmp_path / "c")
    pil = [Image.open(p).convert("RGB") for p in paths[:3]]
    from_pil = e.transform(pil)
    np.testing.assert_array_equal(from_pil, e.transform(paths[:3]))  # same pixels, same decoder
    same = np.stack([np.asarray(Image.new("RGB", (32, 32), (i * 40, 0, 0))) for i in range(3)])
    assert e.transform(same).shape == (3, 96)
    assert e.transform(ImageFolder(folder)).shape == (16, 96)
    assert e.transform(str(folder)).shape == (16, 96)
    fs = featx.extract_features(pil, tiny_backbone, cache_dir=tmp_path / "c", progress=False, num_workers=0)
    assert len(fs) == 3


def test_extract_features_accepts_a_list_of_paths_and_reuses_the_folder_rows(folder, tmp_path, tiny_backbone):
    extract_features(folder, tiny_backbone, cache_dir=tmp_path, num_workers=0, progress=False)
    paths, _ = files(folder)
    fs = extract_features(paths[:5], tiny_backbone, cache_dir=tmp_path, num_workers=0, progress=False)
    assert fs.metadata["n_computed"] == 0 and fs.metadata["n_reused"] == 5
    assert list(fs.ids) == [Path(p).resolve().as_posix() for p in paths[:5]]


def test_a_pipeline_fits_predicts_and_cross_validates_embedding_each_image_once(folder, tmp_path, monkeypatch,
                                                                               tiny_file):
    paths, y = files(folder)
    counter = ForwardCounter(monkeypatch)
    pipe = make_pipeline(Embedder(**tiny_file, cache_dir=tmp_path / "c"), LogisticRegression(max_iter=500))
    scores = cross_val_score(pipe, paths, y, cv=2)
    assert len(scores) == 2 and counter.images == 16
    search = GridSearchCV(pipe, {"logisticregression__C": [0.1, 1.0]}, cv=2).fit(paths, y)
    assert counter.images == 16 and set(search.predict(paths[:4])) <= {"cat", "dog"}
    pipe.fit(paths, y)
    one_by_one = np.vstack([pipe.predict_proba([p]) for p in paths])
    np.testing.assert_allclose(one_by_one, pipe.predict_proba(paths), rtol=0, atol=1e-6)
    assert list(np.concatenate([pipe.predict([p]) for p in paths])) == list(pipe.predict(paths))


def test_saved_pipeline_predicts_bit_identically_and_checks_its_backbone(folder, tmp_path):
    paths, y = files(folder)
    torch.manual_seed(0)
    pipe = make_pipeline(Embedder(**TINY, cache_dir=tmp_path), LogisticRegression(max_iter=500)).fit(paths, y)
    path = save_model(pipe, tmp_path / "m.skops")
    torch.manual_seed(0)  # the same tiny weights: the backbone check passes
    loaded = load_model(path)
    np.testing.assert_array_equal(loaded.predict_proba(paths), pipe.predict_proba(paths))
    assert loaded[0].provenance_ == pipe[0].provenance_ and loaded[0].provenance_["backbone"] == "timm:test_resnet"
    torch.manual_seed(1)  # other weights under the same name
    with pytest.raises(ValueError, match=r"was fitted on features of 'timm:test_resnet' with weights .* but this "
                                         r"machine builds weights"):
        load_model(path)


def test_features_of_another_provenance_are_refused(folder, tmp_path, tiny_backbone):
    e = embedder(tmp_path)
    same = extract_features(folder, tiny_backbone, cache_dir=tmp_path, num_workers=0, progress=False)
    np.testing.assert_array_equal(e.transform(same), same.X)
    torch.manual_seed(5)
    other = extract_features(folder, create_backbone("timm:test_resnet", pretrained=False), cache_dir=tmp_path,
                             num_workers=0, progress=False)
    with pytest.raises(ValueError, match=r"fitted on features of timm:test_resnet \(weights .*\); these features come "
                                         r"from timm:test_resnet \(weights"):
        e.transform(other)
    torch.manual_seed(0)
    layered = extract_features(folder, create_backbone("timm:test_resnet", pretrained=False,
                                                       layers=["layer2", "pooled"]),
                               cache_dir=tmp_path, num_workers=0, progress=False)
    with pytest.raises(ValueError, match=r"layers \['layer2', 'pooled'\]"):
        e.transform(layered)
    bare = featx.FeatureSet(X=same.X, y=same.y, ids=same.ids, domains=same.domains, classes=same.classes)
    with pytest.raises(ValueError, match="carry no cache key"):
        e.transform(bare)


def test_unreadable_images_are_named(folder, tmp_path):
    paths, _ = files(folder)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not an image")
    with pytest.raises(ImageDecodeError, match=r"1 of 3 images cannot be read: .*broken.png"):
        embedder(tmp_path / "c").transform(paths[:2] + [str(broken)])


def test_parameter_and_input_errors(folder, tmp_path, tiny_backbone):
    with pytest.raises(ValueError, match="backbone must be a name"):
        Embedder(tiny_backbone).fit()
    with pytest.raises(ValueError, match="got a mix of both"):
        open_source([str(folder / "cat" / "cat_00.png"), Image.new("RGB", (4, 4))])
    with pytest.raises(ValueError, match="got an empty list"):
        open_source([])
    with pytest.raises(ValueError, match="Cannot read images from a dict"):
        open_source({"a": 1})
    with pytest.raises(ValueError, match="Labels come from the data source itself"):
        open_source(folder, ["a"])
    with pytest.raises(ValueError, match="lists 1 file\\(s\\) more than once"):
        ImageFiles([folder / "cat" / "cat_00.png"] * 2)
    with pytest.raises(ValueError, match="Expected 1 labels, one per image; got 2"):
        ImageFiles([folder / "cat" / "cat_00.png"], ["a", "b"])
    with pytest.raises(ValueError, match="needs at least one image path"):
        ImageFiles([])
    assert open_source(folder / "cat" / "cat_00.png").ids == [(folder / "cat" / "cat_00.png").resolve().as_posix()]


def test_find_rows_skips_a_donor_whose_block_fails_its_checksum(folder, tmp_path, tiny_backbone):
    fs = extract_features(folder, tiny_backbone, cache_dir=tmp_path, num_workers=0, progress=False)
    source = ImageFolder(folder)
    key = fs.metadata["key"]
    found = find_rows(Path(fs.metadata["path"]).parent, key, source.ids, source.content_stamps(), source.locations())
    assert found.found.all()
    np.testing.assert_array_equal(found.X, fs.X)
    path = Path(fs.metadata["path"])
    flip_feature_byte(path)
    again = find_rows(path.parent, key, source.ids, source.content_stamps(), source.locations())
    assert not again.found.any()
