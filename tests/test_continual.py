"""Exactness of the continual models, step by step, against their regular twins and independent oracles.

* ``*`` (mod) models: every step output at t >= 299 equals the regular model on frames t-299..t (1e-4).
* strided models: outputs only at t = 296 + 4k, each equal to the official step semantics (MODELS.md §2.5a rule 5):
  ``fc((1/75) Σ_{j=max(0,k-19)}^{55+k} f_j)`` with ``f_j`` the padded layer stack's output (mean over V, then M).
* one continual temporal convolution against the continual-inference library as an independent oracle.
"""
import pytest
import torch

from cognn import models
from cognn.nn.temporal import TemporalConv, TemporalRing
from helpers import randomise

TOL = 1e-4


def _pair(regular: str, num_classes: int = 10, seed: int = 1, **kw):
    reg = randomise(models.build(regular, num_classes=num_classes), seed=seed)
    co = models.build(models.twin(regular), num_classes=num_classes, **kw)
    co.load_state_dict(reg.state_dict())
    return reg, co.eval()


def _run_steps(co, x):
    outs = {}
    with torch.inference_mode():
        for t in range(x.shape[2]):
            y = co.forward_step(x[:, :, t])
            if y is not None:
                outs[t] = y
    return outs


@pytest.mark.parametrize("regular", ["stgcn_mod", "agcn_mod", "str_mod"])
def test_mod_step_equals_regular_window(regular):
    reg, co = _pair(regular)
    g = torch.Generator().manual_seed(3)
    x = torch.randn(1, 3, 304, 25, 2, generator=g)
    x[:, :, 150:, :, 1] = 0  # the second person leaves (an absent person is zeros)
    outs = _run_steps(co, x)
    assert sorted(outs) == list(range(299, 304))  # first prediction at frame 300, then one per frame
    ts = [299, 303]
    with torch.inference_mode():
        windows = torch.cat([x[:, :, t - 299:t + 1] for t in ts])
        ref = reg(windows).view(len(ts), 1, -1)
    for i, t in enumerate(ts):
        assert (outs[t] - ref[i]).abs().max().item() <= TOL, t
    # clip mode of the continual model = regular model on the first 300 frames
    with torch.inference_mode():
        assert (co(x) - reg(x[:, :, :300])).abs().max().item() <= TOL


def _frame_local(unit):
    """Run a graph unit frame by frame (per-frame attention) — the semantics of CoAGCN's step mode."""
    clip_forward = unit.forward

    def forward(x):
        n, c, t, v = x.shape
        y = clip_forward(x.permute(0, 2, 1, 3).reshape(n * t, c, 1, v))
        return y.view(n, t, -1, v).permute(0, 2, 1, 3)

    unit.forward = forward


@pytest.mark.parametrize("regular", ["stgcn", "str", "agcn"])
def test_strided_step_follows_official_semantics(regular):
    reg, co = _pair(regular)
    if regular == "agcn":  # step mode computes the attention from each single frame
        for layer in reg.layers.values():
            _frame_local(layer.gcn)
    g = torch.Generator().manual_seed(4)
    x = torch.randn(1, 3, 312, 25, 2, generator=g)
    outs = _run_steps(co, x)
    assert sorted(outs) == [296, 300, 304, 308]
    assert co.delay == 296 and co.stride == 4
    with torch.inference_mode():
        f = reg.features(x)  # (M, 256, T', V): padded stack over the whole clip
        f = f.view(1, 2, 256, f.shape[2], 25).mean(4).mean(1)  # (1, 256, T')
        for k, t in enumerate(sorted(outs)):
            pooled = f[..., max(0, k - 19):56 + k].sum(-1) / 75
            ref = reg.fc(pooled)
            assert (outs[t] - ref).abs().max().item() <= TOL, t


def test_strided_clip_mode_is_first_pool_position():
    reg, co = _pair("stgcn")
    x = torch.randn(1, 3, 300, 25, 2)
    with torch.inference_mode():
        f = reg.features(x).view(1, 2, 256, 75, 25).mean(4).mean(1)
        assert (co(x) - reg.fc(f[..., :56].sum(-1) / 75)).abs().max().item() <= TOL


def test_temporal_conv_matches_continual_inference_library():
    co = pytest.importorskip("continual")
    torch.manual_seed(0)
    for stride, padding in [(1, 4), (2, 4), (1, 0)]:
        mine = TemporalConv(6, 5, kernel_size=9, stride=stride, padding=padding).eval()
        with torch.no_grad():  # BN as identity, so both sides compute the bare convolution
            mine.bn.running_var.fill_(1.0 - mine.bn.eps)
            mine.t_conv.weight.normal_()
            mine.t_conv.bias.normal_()
        oracle = co.Conv2d(6, 5, (9, 1), padding=(padding, 0), stride=(stride, 1))
        oracle.load_state_dict(mine.t_conv.state_dict())
        ring, fused = TemporalRing(9, stride, padding), mine.fuse()
        x = torch.randn(2, 6, 30, 7)
        with torch.no_grad():
            for t in range(30):
                want = oracle.forward_step(x[:, :, t])
                got = ring.push(x[:, :, t].permute(0, 2, 1), fused)
                if isinstance(want, torch.Tensor):
                    assert got is not None, (stride, padding, t)
                    assert torch.allclose(got.permute(0, 2, 1), want, atol=1e-5)
                else:
                    assert got is None, (stride, padding, t)


def test_warm_start_equals_replicated_first_frame():
    """Warm start = the state after feeding the first frame receptive_field - 1 times (exact for * models).

    Run on a 90-frame model (same step path, shorter pool) to keep the test short.
    """
    _, cold = _pair("stgcn_mod", seed=2, clip_frames=90)
    warm = models.build("costgcn_mod", num_classes=10, warm_start=True, clip_frames=90)
    warm.load_state_dict(cold.state_dict())
    warm.eval()
    x = torch.randn(1, 3, 12, 25, 2)
    prefix = x[:, :, :1].expand(-1, -1, 89, -1, -1)
    cold_outs = _run_steps(cold, torch.cat([prefix, x], dim=2))
    with torch.inference_mode():
        for t in range(12):
            y = warm.forward_step(x[:, :, t])
            assert y is not None  # a prediction from the first frame on
            assert not warm.ready  # ... flagged as not yet exact
            assert (y - cold_outs[89 + t]).abs().max().item() <= TOL


def test_ready_flag_and_warm_start_on_strided_model():
    _, co = _pair("str", seed=5, warm_start=True)
    x = torch.randn(1, 3, 460, 25, 2)
    n_out, ready_at = 0, None
    with torch.inference_mode():
        for t in range(460):
            y = co.forward_step(x[:, :, t])
            if y is not None:
                assert torch.isfinite(y).all()
                n_out += 1
            if co.ready and ready_at is None:
                ready_at = t
    assert n_out == 460 // 4  # one prediction every 4 frames from the first frame on
    assert ready_at == co.receptive_field - 1 == 448


def test_state_handling():
    _, co = _pair("stgcn_mod", seed=6, clip_frames=90)
    x = torch.randn(1, 3, 91, 25, 2)
    with torch.inference_mode():
        outs = co.forward_steps(x)
        assert outs.shape == (1, 10, 2)
        co.clean_state()
        assert co.steps_seen == 0 and co.forward_steps(x[:, :, :89]) is None
        peek = co.forward_step(x[:, :, 89], update_state=False)
        assert co.steps_seen == 89
        assert torch.allclose(peek, co.forward_step(x[:, :, 89]))
        assert torch.allclose(peek, outs[..., 0], atol=TOL)
        # a new batch shape starts a new stream
        co.forward_step(torch.randn(3, 3, 25, 2))
        assert co.steps_seen == 1


def test_kinetics_layout_steps():
    reg = randomise(models.build("str_mod", num_classes=5, layout="kinetics18"), seed=7)
    co = models.build("costr_mod", num_classes=5, layout="kinetics18", clip_frames=90)
    co.load_state_dict(reg.state_dict())
    co.eval()
    x = torch.randn(1, 3, 92, 18, 2)
    outs = _run_steps(co, x)
    assert sorted(outs) == [89, 90, 91]
    with torch.inference_mode():
        assert (outs[91] - reg(x[:, :, 2:92])).abs().max().item() <= TOL


@pytest.mark.parametrize("regular", ["stgcn_mod", "agcn_mod", "str_mod"])
def test_slim_network_steps_exactly(regular):
    """``base_channels=32`` (the bundled gesture model's width): same depth and graph, a quarter of the products, and
    the step outputs still equal the regular twin on every window."""
    reg = randomise(models.build(regular, num_classes=6, base_channels=32), seed=2)
    co = models.build(models.twin(regular), num_classes=6, base_channels=32, clip_frames=90)
    co.load_state_dict(reg.state_dict())
    co.eval()
    assert reg.fc.in_features == 128
    x = torch.randn(1, 3, 93, 25, 2, generator=torch.Generator().manual_seed(4))
    outs = _run_steps(co, x)
    assert sorted(outs) == [89, 90, 91, 92]
    with torch.inference_mode():
        for t in (89, 92):
            ref = reg(x[:, :, t - 89:t + 1])
            assert (outs[t] - ref).abs().max().item() <= TOL, t


def test_width_must_be_a_multiple_of_eight():
    with pytest.raises(ValueError, match="multiple of 8"):
        models.build("stgcn", base_channels=20)
    with pytest.raises(TypeError, match="continual models only"):
        models.build("stgcn", clip_frames=90)
    assert sum(p.numel() for p in models.build("stgcn", base_channels=32).parameters()) < 1_000_000
