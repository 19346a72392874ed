import copy

import pytest
import torch
from timm.layers import Conv2dSame
from torch import nn

from featx.backbones import create_backbone
# private: TF 'SAME' padding of the embedded Lites, tested as such
from featx.backbones._same_pad import SamePadConv2d, replace_same_padding, same_padding_plan, tf_same_padding


@pytest.mark.parametrize(
    "size, kernel, stride, dilation, pads, plan",
    [
        (224, 3, 2, 1, (0, 1), (1, 1)),  # EfficientNet's strided 3x3: one more zero after
        (112, 5, 2, 1, (1, 2), (1, 2)),  # strided 5x5
        (225, 3, 2, 1, (1, 1), (0, 1)),  # odd size: symmetric, nothing to add
        (56, 3, 1, 1, (1, 1), (0, 1)),
        (10, 2, 1, 1, (0, 1), (1, 1)),  # even kernel, stride 1
        (8, 3, 3, 1, (0, 1), (1, 1)),
        (7, 3, 3, 1, (1, 1), (0, 1)),
        (224, 3, 2, 2, (1, 2), None),  # dilated: a zero tap in front would shift by 2
    ],
)
def test_plan_reproduces_tf_same_padding(size, kernel, stride, dilation, pads, plan):
    assert tf_same_padding(size, kernel, stride, dilation) == pads
    assert same_padding_plan(size, kernel, stride, dilation) == plan


@pytest.mark.parametrize("kernel, stride, dilation, groups", [(3, 2, 1, 8), (5, 2, 1, 8), (3, 1, 1, 1),
                                                             (2, 1, 1, 1), ((3, 5), (2, 1), 1, 1), (3, 2, 2, 8)])
@pytest.mark.parametrize("hw", [(16, 16), (15, 16), (17, 9)])
def test_same_pad_conv_equals_timm_conv2d_same(kernel, stride, dilation, groups, hw):
    torch.manual_seed(0)
    timm_conv = Conv2dSame(8, 8, kernel, stride=stride, dilation=dilation, groups=groups, bias=True).eval()
    ours = SamePadConv2d(timm_conv)
    x = torch.randn(2, 8, *hw)
    with torch.inference_mode():
        expected = timm_conv(x)
        got = ours(x)
        assert got.shape == expected.shape
        torch.testing.assert_close(got, expected, rtol=1e-6, atol=1e-6)
        torch.testing.assert_close(ours(x.contiguous(memory_format=torch.channels_last)), expected,
                                   rtol=1e-6, atol=1e-6)


def test_replace_swaps_only_timm_same_convs_and_shares_weights():
    model = nn.Sequential(Conv2dSame(3, 4, 3, stride=2), nn.Conv2d(4, 4, 3), nn.Sequential(Conv2dSame(4, 4, 5, 2)))
    before = copy.deepcopy(model)
    assert replace_same_padding(model) == 2
    assert isinstance(model[0], SamePadConv2d) and type(model[1]) is nn.Conv2d and isinstance(model[2][0],
                                                                                              SamePadConv2d)
    assert model[0].weight is not None and torch.equal(model[0].weight, before[0].weight)
    x = torch.randn(1, 3, 32, 32)
    with torch.inference_mode():
        torch.testing.assert_close(model(x), before(x), rtol=1e-6, atol=1e-6)


def test_default_backbone_folds_its_same_padding():
    bb = create_backbone("efficientnet_lite0")
    folded = bb.folded()
    assert folded.info["same_padding_inlined"] == 5  # the stem and the four strided depthwise convs
    assert not any(type(m) is Conv2dSame for m in folded.model.modules())
    assert any(type(m) is Conv2dSame for m in bb.model.modules())  # the original keeps its own
    x = torch.randint(0, 256, (2, 3, 224, 224), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        torch.testing.assert_close(folded(x), bb(x), rtol=1e-4, atol=1e-4)
