"""Model registry, parameter counts, shapes and weight transfer between regular and continual twins."""
import pytest
import torch

from cognn import models

REGULAR = ["stgcn", "stgcn_mod", "agcn", "agcn_mod", "str", "str_mod"]
CONTINUAL = ["costgcn", "costgcn_mod", "coagcn", "coagcn_mod", "costr", "costr_mod"]
ORIGINAL = ["stgcn_original", "stgcn_original_mod", "costgcn_original", "costgcn_original_mod"]


def test_names():
    assert models.names() == REGULAR + CONTINUAL
    assert models.names("regular") == REGULAR and models.names("continual") == CONTINUAL
    assert models.display_name("costgcn_mod") == "CoST-GCN*" and models.display_name("str") == "S-TR"
    assert models.twin("coagcn") == "agcn" and models.twin("str_mod") == "costr_mod"
    with pytest.raises(ValueError, match="unknown model 'resnet'"):
        models.build("resnet")


def test_original_stgcn_is_a_family_like_the_others():
    assert models.names("extra") == ORIGINAL and "stgcn_original" not in models.names()
    assert models.names("registered") == REGULAR + CONTINUAL + ORIGINAL
    assert [models.display_name(n) for n in ORIGINAL] == ["ST-GCN (original)", "ST-GCN* (original)",
                                                          "CoST-GCN (original)", "CoST-GCN* (original)"]
    assert models.twin("costgcn_original_mod") == "stgcn_original_mod" and models.twin("stgcn_original") == \
        "costgcn_original"
    fam = models.family_of("costgcn_original")
    assert fam.name == "stgcn_original" and not fam.paper and fam.data_bn == "shared"
    assert fam.foreign is not None and fam.foreign.source == "stgcn-original"
    co = models.build("costgcn_original_mod", num_classes=400, layout="kinetics18", clip_frames=90)
    assert isinstance(co, models.CoSkeletonNet) and (co.receptive_field, co.delay, co.stride) == (90, 89, 1)
    assert co.data_bn.num_features == 3 * 18  # one BatchNorm for every person: V·C
    plain = models.build("stgcn_original", num_classes=5, edge_importance=False)
    assert not any("edge_importance" in k for k in plain.state_dict())
    with pytest.raises(TypeError, match="no option 'edge_importance'"):
        models.build("stgcn", edge_importance=False)


def test_model_name_typos_get_a_suggestion():
    with pytest.raises(ValueError, match="did you mean costgcn_mod"):
        models.build("costgcn_mdo")
    with pytest.raises(ValueError, match="did you mean costgcn_original"):
        models.spec("costgcn_orignal")


def test_no_module_special_cases_a_family_by_name():
    """Families are declared once (cognn/models/<family>.py); nothing else compares against a family's name."""
    import re
    from pathlib import Path

    root = Path(models.__file__).resolve().parents[1]
    own = {root / "models" / f"{n}.py" for n in ("stgcn", "agcn", "str", "stgcn_original")}
    names = "|".join(re.escape(f.name) for f in models.FAMILIES) + "|stgcn-original"
    pattern = re.compile(rf"""(==|!=|\bin\s*[(\[{{])\s*["']({names})["']|["']({names})["']\s*(==|!=)""")
    offenders = [f"{path.relative_to(root)}:{i}" for path in root.rglob("*.py") if path not in own
                 for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if pattern.search(line)]
    assert offenders == []


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
              "layers.layer5.residual.t_conv.weight", "layers.layer8.residual.bn.bias",
              "layers.layer10.tcn.t_conv.bias", "fc.weight"):
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


@pytest.mark.parametrize("regular", REGULAR + ORIGINAL[:2])
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
