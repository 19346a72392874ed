"""ONNX backbones: export, read back, extract into the cache, and every error."""

import copy
import json
import sys

import numpy as np
import pytest
import torch

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

from featx.backbones import OnnxBackbone, create_backbone, export_onnx  # noqa: E402
# private: the preprocessing record inside an ONNX file, tested as such
from featx.backbones._onnx import PREPROCESSING_KEY, onnx_backbone, preprocessing_from  # noqa: E402
from featx.cli.main import main  # noqa: E402

pytestmark = pytest.mark.slow  # exports and onnxruntime sessions: run by CI (.ci/run), not by make test
from featx.extract import extract_features  # noqa: E402

#: Stated tolerance of ONNX features against torch's (float32 on both; measured on the default
#: backbone: max |diff| 6.3e-6, relative norm 1.3e-6).
ATOL, RTOL_NORM = 1e-4, 1e-5


@pytest.fixture(scope="module")
def tiny_onnx(tmp_path_factory):
    torch.manual_seed(0)
    bb = create_backbone("timm:test_resnet", pretrained=False)
    path = export_onnx(bb, tmp_path_factory.mktemp("onnx") / "tiny.onnx")
    return bb, path


def _images(n, size, seed=0):
    return torch.randint(0, 256, (n, 3, *size), generator=torch.Generator().manual_seed(seed), dtype=torch.uint8)


def _close(a, b):
    return (a - b).abs().max().item() < ATOL and ((a - b).norm() / a.norm()).item() < RTOL_NORM


def _strip_metadata(path, out):
    import onnx

    model = onnx.load(str(path))
    del model.metadata_props[:]
    onnx.save(model, str(out))
    return out


def test_default_backbone_exported_to_onnx_gives_the_same_features(tmp_path):
    bb = create_backbone("efficientnet_lite0")
    path = export_onnx(bb, tmp_path / "lite0.onnx")
    ob = create_backbone(f"onnx:{path}")
    assert isinstance(ob, OnnxBackbone) and ob.embed_dim == 1280 and ob.preprocessing == bb.preprocessing
    x = _images(3, (224, 224))
    with torch.inference_mode():
        assert _close(bb(x), ob(x))


def test_onnx_backbone_extracts_into_the_cache(tiny_onnx, image_folder, tmp_path):
    bb, path = tiny_onnx
    ob = create_backbone(f"onnx:{path}")
    assert ob.runtime["onnx_output"] == "embedding" and ob.runtime["execution_provider"] == "CPUExecutionProvider"
    assert ob.weights_fingerprint != bb.weights_fingerprint and len(ob.weights_fingerprint) == 40
    ref = extract_features(image_folder, bb, cache_dir=tmp_path, num_workers=0, progress=False)
    fs = extract_features(image_folder, ob, cache_dir=tmp_path, num_workers=0, progress=False, precision="auto")
    assert fs.metadata["key"]["runtime"] == ob.runtime and fs.metadata["key"]["precision"] == "float32"
    assert fs.metadata["path"].split("/")[-2] == "tiny.onnx"
    np.testing.assert_allclose(fs.X, ref.X, atol=ATOL)
    again = extract_features(image_folder, ob, cache_dir=tmp_path, num_workers=0, progress=False)
    assert again.metadata["n_computed"] == 0


def test_onnx_session_survives_pickling_and_runs_fixed_batches(tiny_onnx, tmp_path):
    bb, _ = tiny_onnx
    import onnx

    fixed = tmp_path / "fixed.onnx"  # batch of 2 baked into the graph: run in chunks of 2
    torch.onnx.export(bb.model.eval(), (torch.zeros(2, 3, 160, 160),), str(fixed), dynamo=True,
                      input_names=["input"], output_names=["logits"], verbose=False)
    assert onnx.load(str(fixed)).graph.input[0].type.tensor_type.shape.dim[0].dim_value == 2
    ob = onnx_backbone(str(fixed), preprocessing=bb.preprocessing)
    assert ob.model.fixed_batch == 2 and ob.embed_dim == bb.model.num_classes
    x = _images(5, (160, 160))
    with torch.inference_mode():
        out = ob(x)
        assert _close(bb.model(bb.normalize(x)), out)
        assert torch.equal(copy.deepcopy(ob)(x), out)


def test_preprocessing_given_or_refused(tiny_onnx, tmp_path):
    bb, path = tiny_onnx
    bare = _strip_metadata(path, tmp_path / "bare.onnx")
    with pytest.raises(ValueError, match="records no preprocessing"):
        onnx_backbone(str(bare))
    spec = {"input_size": [160, 160], "mean": list(bb.preprocessing.mean), "std": list(bb.preprocessing.std)}
    (tmp_path / "pre.json").write_text(json.dumps(spec))
    for given in (spec, json.dumps(spec), str(tmp_path / "pre.json"), bb.preprocessing):
        got = onnx_backbone(str(bare), preprocessing=given).preprocessing
        assert (got.input_size, got.mean, got.std) == ((160, 160), bb.preprocessing.mean, bb.preprocessing.std)


def test_preprocessing_from_errors():
    with pytest.raises(ValueError, match=r"missing \['std'\]"):
        preprocessing_from({"input_size": [8, 8], "mean": [0, 0, 0]})
    with pytest.raises(ValueError, match="need 3 values"):
        preprocessing_from({"input_size": [8, 8], "mean": [0], "std": [1]})
    with pytest.raises(TypeError, match="got int"):
        preprocessing_from(3)


def test_bad_metadata_is_named(tiny_onnx, tmp_path):
    import onnx

    _, path = tiny_onnx
    model = onnx.load(str(path))
    model.metadata_props[0].value = json.dumps({"mean": [0.5] * 3})
    onnx.save(model, str(tmp_path / "bad.onnx"))
    with pytest.raises(ValueError, match=f"metadata '{PREPROCESSING_KEY}' is not a valid preprocessing"):
        onnx_backbone(str(tmp_path / "bad.onnx"))


def test_onnx_errors(tiny_onnx, tmp_path, image_folder, monkeypatch):
    _, path = tiny_onnx
    with pytest.raises(ValueError, match=r"has no output 'nope'; its outputs are \['embedding'\]"):
        onnx_backbone(str(path), output="nope")
    with pytest.raises(ValueError, match="report one graph output"):
        create_backbone(f"onnx:{path}", layers=["layer1"])
    with pytest.raises(FileNotFoundError, match="No ONNX file"):
        onnx_backbone(str(tmp_path / "missing.onnx"))
    flat = tmp_path / "flat.onnx"
    torch.onnx.export(torch.nn.Linear(4, 2).eval(), (torch.zeros(1, 4),), str(flat), dynamo=True, verbose=False)
    with pytest.raises(ValueError, match=r"expected one image input of shape \(N, 3, H, W\)"):
        onnx_backbone(str(flat), preprocessing={"input_size": [4, 4], "mean": [0] * 3, "std": [1] * 3})
    ob = create_backbone(f"onnx:{path}")
    with pytest.raises(ValueError, match=r"computes in \['float32'\] only; got precision='bfloat16'"):
        extract_features(image_folder, ob, cache_dir=tmp_path, precision="bfloat16", progress=False)
    with pytest.raises(ValueError, match="compile=True needs a torch backbone"):
        extract_features(image_folder, ob, cache_dir=tmp_path, compile=True, progress=False)
    with pytest.raises(ValueError, match="export_onnx writes the pooled embedding only"):
        export_onnx(create_backbone("timm:test_resnet", pretrained=False, layers=["layer1"]), tmp_path / "x.onnx")
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(ImportError, match=r"featx\[onnx\]"):
        onnx_backbone(str(path))


def test_cli_extract_with_an_onnx_file(tiny_onnx, image_folder, tmp_path, capsys):
    bb, path = tiny_onnx
    bare = _strip_metadata(path, tmp_path / "bare.onnx")
    spec = json.dumps({"input_size": [160, 160], "mean": list(bb.preprocessing.mean),
                       "std": list(bb.preprocessing.std)})
    code = main(["extract", str(image_folder), "--backbone", f"onnx:{bare}", "--output", "embedding",
                 "--preprocessing", spec, "--cache-dir", str(tmp_path / "c"), "--workers", "0", "--no-progress"])
    assert code == 0 and "x 96 features" in capsys.readouterr().out
    code = main(["extract", str(image_folder), "--backbone", "efficientnet_lite0", "--output", "x"])
    assert code == 2 and "--output is only for --backbone onnx:<path>" in capsys.readouterr().err
