import pytest
import torch
from torch import nn

from featx.backbones import create_backbone
# private: BatchNorm folding behind fold_batchnorm=True, tested as such
from featx.backbones._fold import fold_batchnorm, fold_conv_bn


def test_fold_conv_bn_is_the_same_affine_map():
    torch.manual_seed(0)
    conv, bn = nn.Conv2d(3, 4, 3, bias=False), nn.BatchNorm2d(4).eval()
    bn.running_mean.uniform_(-1, 1)
    bn.running_var.uniform_(0.5, 2)
    bn.weight.data.uniform_(0.5, 2)
    bn.bias.data.uniform_(-1, 1)
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        expected = bn(conv(x))
        fold_conv_bn(conv, bn)
        torch.testing.assert_close(conv(x), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", ["timm:test_resnet", "timm:test_efficientnet"])
def test_folded_backbone_matches_and_keeps_identity(name):
    torch.manual_seed(0)
    bb = create_backbone(name, pretrained=False, layers=["pooled"])
    folded = bb.folded()
    assert folded is not bb and folded.info["batchnorm_folded"] > 0
    assert bb.folded() is folded and folded.folded() is folded  # built once
    assert all(k.startswith("model.") for k in bb.state_dict())  # the copy is not a submodule
    assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.model.modules())
    assert folded.weights_fingerprint == bb.weights_fingerprint and folded.name == bb.name
    x = torch.randint(0, 256, (3, 3, 64, 64), dtype=torch.uint8)
    with torch.inference_mode():
        torch.testing.assert_close(folded(x), bb(x), rtol=1e-4, atol=1e-4)
    # the original is untouched and its layer hooks still work
    assert any(isinstance(m, nn.BatchNorm2d) for m in bb.model.modules())


def test_folded_backbone_keeps_intermediate_layers():
    torch.manual_seed(0)
    bb = create_backbone("timm:test_resnet", pretrained=False, layers=["layer1", "pooled"])
    folded = bb.folded()
    x = torch.randint(0, 256, (2, 3, 64, 64), dtype=torch.uint8)
    with torch.inference_mode():
        torch.testing.assert_close(folded(x), bb(x), rtol=1e-4, atol=1e-4)
        assert bb(x).shape == (2, bb.embed_dim)


class _SharedConv(nn.Module):
    """A conv whose raw output feeds both a BN and a residual: folding would be wrong."""

    def __init__(self):
        super().__init__()
        self.conv, self.bn = nn.Conv2d(3, 3, 1), nn.BatchNorm2d(3)
        self.act = nn.ReLU()

    def forward(self, x):
        y = self.conv(x)
        return self.act(self.bn(y)) + y


def test_fold_skips_a_conv_whose_output_is_used_twice():
    m = _SharedConv().eval()
    with torch.no_grad():
        m.bn.running_mean.fill_(0.5)
    x = torch.randn(2, 3, 4, 4)
    folded, count = fold_batchnorm(m, x)
    with torch.inference_mode():
        torch.testing.assert_close(folded(x), m(x))
    # the residual reads the conv output directly, which hooks cannot see: the numerical
    # check catches it and the original model comes back unfolded
    assert count == 0 and folded is m
