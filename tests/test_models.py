"""Model registry, parameter counts, shapes and weight transfer between regular and continual twins."""
import pytest
import torch

from cognn import models

REGULAR = ["stgcn", "stgcn_mod", "agcn", "agcn_mod", "str", "str_mod"]
CONTINUAL = ["costgcn", "costgcn_mod", "coagcn", "coagcn_mod", "costr", "costr_mod"]


def test_names():
    assert models.names() == REGULAR + CONTINUAL
    assert models.names("regular") == REGULAR and models.names("continual") == CONTINUAL
    assert models.display_name("costgcn_mod") == "CoST-GCN*" and models.display_name("str") == "S-TR"
    assert models.twin("coagcn") == "agcn" and models.twin("str_mod") == "costr_mod"
    with pytest.raises(ValueError, match="unknown model 'resnet'"):
        models.build("resnet")


@pytest.mark.parametrize("family, params, entries", [("stgcn", 3_141_478, 242), ("agcn", 3_469_510, 362),
                                                     ("str", 3_086_470, 242)])
def test_parameter_counts_match_reference(family, params, entries):
    for name in (family, family + "_mod", "co" + family, "co" + family + "_mod"):
        m = models.build(name, num_classes=60)
        assert sum(p.numel() for p in m.parameters() if p.requires_grad) == params, name
        assert len(m.state_dict()) == entries, name


def test_reference_key_names():
    keys = set(models.build("stgcn").state_dict())
    for k in ("data_bn.running_mean", "layers.layer1.gcn.A", "layers.layer1.gcn.graph_attn",
              "layers.layer1.gcn.g_conv.2.weight", "layers.layer1.gcn.gcn_residual.1.running_var",
              "layers.layer5.residual.t_conv.weight", "layers.layer8.residual.bn.bias", "layers.layer10.tcn.t_conv.bias",
              "fc.weight"):
        assert k in keys, k
    skeys = set(models.build("str").state_dict())
    for k in ("layers.layer4.gcn.A", "layers.layer4.gcn.data_bn.weight", "layers.layer4.gcn.bn.weight",
              "layers.layer4.gcn.attention_conv.qkv_conv.weight", "layers.layer10.gcn.attention_conv.attn_out.bias"):
        assert k in skeys, k
    akeys = set(models.build("agcn_mod").state_dict())
    assert "layers.layer3.gcn.a_conv.1.weight" in akeys and "layers.layer3.gcn.b_conv.2.bias" in akeys


@pytest.mark.parametrize("layout, v", [("ntu25", 25), ("kinetics18", 18)])
def test_forward_shapes(layout, v):
    x = torch.randn(2, 3, 64, v, 2)
    for name in ("stgcn", "agcn", "str"):
        m = models.build(name, num_classes=7, layout=layout).eval()
        with torch.no_grad():
            assert m(x).shape == (2, 7)
    m = models.build("stgcn_mod", num_classes=7, layout=layout).eval()
    with torch.no_grad():
        assert m(torch.randn(1, 3, 100, v, 2)).shape == (1, 7)


def test_bad_input_shapes_are_clear():
    m = models.build("stgcn", num_classes=5)
    with pytest.raises(ValueError, match=r"expected \(N, 3, T, 25, 2\)"):
        m(torch.randn(1, 3, 20, 18, 2))
    co = models.build("costgcn_mod", num_classes=5)
    with pytest.raises(ValueError, match="expected a frame"):
        co.forward_step(torch.randn(1, 3, 25))


@pytest.mark.parametrize("regular", REGULAR)
def test_weight_transfer_without_conversion(regular):
    src = models.build(regular, num_classes=11)
    dst = models.build(models.twin(regular), num_classes=11)
    result = dst.load_state_dict(src.state_dict())  # strict
    assert not result.missing_keys and not result.unexpected_keys
    for (k, a), b in zip(src.state_dict().items(), dst.state_dict().values()):
        assert torch.equal(a, b), k


def test_continual_geometry():
    for name in ("costgcn_mod", "coagcn_mod", "costr_mod"):
        m = models.build(name)
        assert (m.receptive_field, m.delay, m.stride, m.pool_size, m.pool_padding) == (300, 299, 1, 220, 0)
    for name in ("costgcn", "coagcn", "costr"):
        m = models.build(name)
        assert (m.receptive_field, m.delay, m.stride, m.pool_size, m.pool_padding) == (449, 296, 4, 75, 19)
    short = models.build("costgcn_mod", clip_frames=90)
    assert (short.receptive_field, short.delay, short.pool_size) == (90, 89, 10)
    with pytest.raises(ValueError, match="clip_frames must be at least 81"):
        models.build("costgcn_mod", clip_frames=50)
    with pytest.raises(ValueError, match="clip_frames must be at least 77"):
        models.build("costr", clip_frames=76)
