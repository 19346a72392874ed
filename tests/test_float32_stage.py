"""A CNN's first stage stays in float32 under bfloat16/float16 autocast."""

import copy
import pickle

import pytest
import torch
from torch import nn

from featx.backbones import create_backbone
# private: the float32 first stage of low-precision backbones, tested as such
from featx.backbones._float32_stage import first_stage_modules, keep_in_float32


def _tiny(name):
    torch.manual_seed(0)
    return create_backbone(f"timm:{name}", pretrained=False)


@pytest.mark.parametrize("name, stage", [("test_efficientnet", ("conv_stem", "bn1", "blocks.0")),
                                         ("test_resnet", ("conv1", "bn1", "act1"))])
def test_first_stage_is_everything_up_to_the_reduction_2_features(name, stage):
    bb = _tiny(name)
    assert bb.float32_first_stage == stage
    assert bb.model.feature_info[0]["reduction"] == 2 and bb.model.feature_info[0]["module"] == stage[-1]


@pytest.mark.parametrize("info", [None, "not a list", [{"module": "b", "reduction": 4}], [{"module": "x.y",
                                                                                           "reduction": 2}]])
def test_no_first_stage_without_a_usable_record(info):
    model = nn.Sequential()
    model.add_module("a", nn.Conv2d(3, 4, 3))
    model.add_module("b", nn.ReLU())
    if info is not None:
        model.feature_info = info
    assert first_stage_modules(model) == ()
    model.feature_info = [{"module": "b", "reduction": 2}]
    assert first_stage_modules(model) == ("a", "b")


def _output_dtypes(model, x, names):
    seen = {}
    hooks = [model.get_submodule(n).register_forward_hook(lambda m, a, o, n=n: seen.__setitem__(n, o.dtype))
             for n in names]
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
        model(x)
    for h in hooks:
        h.remove()
    return seen


def test_kept_modules_compute_in_float32_under_autocast_and_the_rest_does_not():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Conv2d(4, 4, 3), nn.Conv2d(4, 2, 3))
    x = torch.randn(1, 3, 12, 12)
    assert set(_output_dtypes(model, x, ["0", "1", "2"]).values()) == {torch.bfloat16}
    assert keep_in_float32(model, ["0", "1"]) == 2
    assert _output_dtypes(model, x, ["0", "1", "2"]) == {"0": torch.float32, "1": torch.float32, "2": torch.bfloat16}
    with torch.inference_mode():  # without autocast nothing changes
        ref = nn.Sequential(*[copy.deepcopy(m) for m in model])
        for m in ref:
            m.__dict__.pop("forward", None)
        assert torch.equal(model(x), ref(x))
    with pytest.raises(ValueError, match=r"No module named \['nope'\] in the model"):
        keep_in_float32(model, ["0", "nope"])


def test_backbone_copy_with_float32_first_stage():
    bb = _tiny("test_efficientnet")
    folded = bb.folded()
    mixed = folded.with_float32_first_stage()
    assert mixed is folded.with_float32_first_stage() and mixed is not folded and mixed.folded() is mixed
    assert mixed.info["float32_first_stage"] == ["conv_stem", "bn1", "blocks.0"]
    assert mixed.weights_fingerprint == bb.weights_fingerprint
    x = torch.randint(0, 256, (2, 3, *bb.preprocessing.input_size), dtype=torch.uint8)
    with torch.inference_mode():
        assert torch.equal(mixed(x), folded(x))
    assert _output_dtypes(mixed.model, mixed.normalize(x), ["blocks.0", "blocks.1"]) == {
        "blocks.0": torch.float32, "blocks.1": torch.bfloat16}
    assert _output_dtypes(folded.model, folded.normalize(x), ["blocks.0"]) == {"blocks.0": torch.bfloat16}
    for clone in (pickle.loads(pickle.dumps(mixed)), copy.deepcopy(mixed)):  # Ray ships it pickled
        stem = clone.model.conv_stem
        assert stem.forward.module is stem
        with torch.inference_mode():
            assert torch.equal(clone(x), mixed(x))


def test_float32_first_stage_keeps_intermediate_layers_and_leaves_the_original_alone():
    torch.manual_seed(0)
    bb = create_backbone("timm:test_resnet", pretrained=False, layers=["act1", "layer1", "pooled"])
    mixed = bb.with_float32_first_stage()
    x = torch.randint(0, 256, (2, 3, 64, 64), dtype=torch.uint8)
    with torch.inference_mode():
        ref = bb(x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = mixed(x)
        assert torch.equal(bb(x), ref)  # the original's hooks still report to it alone
    assert out.shape == ref.shape
    assert "forward" not in bb.model.conv1.__dict__


def test_backbone_without_a_first_stage_is_returned_as_is():
    model = nn.Sequential(nn.Conv2d(3, 4, 3, stride=2), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    from featx.backbones import Backbone, Preprocessing

    bb = Backbone(model, name="plain", preprocessing=Preprocessing((16, 16), (0.5,) * 3, (0.5,) * 3),
                  pooled_fn=lambda m, x: m(x), pooled_dim=4)
    assert bb.float32_first_stage == () and bb.with_float32_first_stage() is bb
