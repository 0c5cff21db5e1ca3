"""Exactness of the continual models, step by step, against their regular twins and independent oracles.

* ``*`` (mod) models: every step output at t >= 299 equals the regular model on frames t-299..t (1e-4).
* strided models: outputs only at t = 296 + 4k, each equal to the official step semantics (MODELS.md §2.5a rule 5):
  ``fc((1/75) Σ_{j=max(0,k-19)}^{55+k} f_j)`` with ``f_j`` the padded layer stack's output (mean over V, then M).
* the original ST-GCN family (Kinetics: 18 joints, x/y/score, 400 classes) follows the same rules.
* early predictions (warm start): ``replicate``, ``prefix`` (for ``*`` models exactly the regular model on the clip
  seen so far), ``replicate-prefix``, ``exact`` (every model: exactly the regular model on the clip seen so far).
* one continual temporal convolution against the continual-inference library as an independent oracle.
"""
import pytest
import torch
from helpers import randomise

from cognn import models
from cognn.nn.temporal import TemporalConv, TemporalRing

TOL = 1e-4


#: the layout and class count each family is tested with (the original ST-GCN: its Kinetics-400 setting)
SETTING = {"stgcn_original": ("kinetics18", 400), "stgcn_original_mod": ("kinetics18", 400)}


def _pair(regular: str, num_classes: int = 10, seed: int = 1, **kw):
    layout, num_classes = SETTING.get(regular, ("ntu25", num_classes))
    reg = randomise(models.build(regular, num_classes=num_classes, layout=layout), seed=seed)
    co = models.build(models.twin(regular), num_classes=num_classes, layout=layout, **kw)
    co.load_state_dict(reg.state_dict())
    return reg, co.eval()


def _clip(frames: int, model, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(1, model.in_channels, frames, model.layout.num_joints, model.num_persons, generator=g)


def _run_steps(co, x):
    outs = {}
    with torch.inference_mode():
        for t in range(x.shape[2]):
            y = co.forward_step(x[:, :, t])
            if y is not None:
                outs[t] = y
    return outs


@pytest.mark.parametrize("regular", ["stgcn_mod", "agcn_mod", "str_mod", "stgcn_original_mod"])
def test_mod_step_equals_regular_window(regular):
    reg, co = _pair(regular)
    x = _clip(304, reg, seed=3)
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


@pytest.mark.parametrize("regular", ["stgcn", "str", "agcn", "stgcn_original"])
def test_strided_step_follows_official_semantics(regular):
    reg, co = _pair(regular)
    if regular == "agcn":  # step mode computes the attention from each single frame
        for layer in reg.layers.values():
            _frame_local(layer.gcn)
    x = _clip(312, reg, seed=4)
    outs = _run_steps(co, x)
    assert sorted(outs) == [296, 300, 304, 308]
    assert co.delay == 296 and co.stride == 4
    with torch.inference_mode():
        f = _pooled_features(reg, x)  # (1, 256, T'): padded stack over the whole clip
        for k, t in enumerate(sorted(outs)):
            pooled = f[..., max(0, k - 19):56 + k].sum(-1) / 75
            ref = reg.fc(pooled)
            assert (outs[t] - ref).abs().max().item() <= TOL, t


def _pooled_features(reg, x: torch.Tensor) -> torch.Tensor:
    """The layer stack over a clip, averaged over joints and then persons: ``(N, C', T')``."""
    f = reg.features(x)
    n, m = x.shape[0], x.shape[-1]
    return f.view(n, m, f.shape[1], f.shape[2], f.shape[3]).mean(4).mean(1)


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


# -- early predictions -------------------------------------------------------------------------------------------------
def test_prefix_mode_is_the_regular_mod_model_on_the_clip_so_far():
    """``early_mode="prefix"``: zero-started layers and a pool over the positions produced so far, i.e. exactly the
    regular ``*`` model on frames 0..t, from the backbone's 81st frame on."""
    reg, co = _pair("stgcn_original_mod", seed=8, clip_frames=90, warm_start=True, early_mode="prefix")
    x = _clip(92, reg, seed=8)
    outs, ready = {}, {}
    with torch.inference_mode():
        for t in range(92):
            y = co.forward_step(x[:, :, t])
            if y is not None:
                outs[t], ready[t] = y, co.ready
        assert sorted(outs) == list(range(80, 92))
        for t in (80, 85, 89, 91):
            ref = reg(x[:, :, max(0, t - 89):t + 1])
            assert (outs[t] - ref).abs().max().item() <= TOL, t
    assert [t for t in ready if ready[t]] == [89, 90, 91]  # exact from the full window on, as a cold stream


def test_replicate_prefix_mode_pads_with_the_first_frame():
    """``replicate-prefix``: the layers replicate the first frame, the pool covers what was produced: the regular ``*``
    model on 80 copies of frame 0 followed by frames 0..t."""
    reg, co = _pair("stgcn_mod", seed=9, clip_frames=90, warm_start=True, early_mode="replicate-prefix")
    x = _clip(12, reg, seed=9)
    with torch.inference_mode():
        for t in range(12):
            y = co.forward_step(x[:, :, t])
            assert y is not None and not co.ready
            ref = reg(torch.cat([x[:, :, :1].expand(-1, -1, 80, -1, -1), x[:, :, :t + 1]], dim=2))
            assert (y - ref).abs().max().item() <= TOL, t


def test_prefix_mode_on_the_strided_model():
    """Strided ``prefix``: cold layers (the official zero start), answers from the first pooled position on, each the
    mean of the positions produced so far; identical to the official output once the pool is full."""
    reg, co = _pair("stgcn_original", seed=10, warm_start=True, early_mode="prefix")
    x = _clip(160, reg, seed=10)
    outs = _run_steps(co, x)
    assert sorted(outs) == list(range(76, 160, 4))  # the backbone's delay, then every stride
    with torch.inference_mode():
        f = _pooled_features(reg, x)
        for t in (76, 100, 156):
            k = (t - 76) // 4
            assert (outs[t] - reg.fc(f[..., :k + 1].mean(-1))).abs().max().item() <= TOL, t
    assert not co.ready and co.delay + co.pool_padding * co.stride == 372


def test_bridged_mode_is_prefix_bridged_by_replicate_prefix():
    """``bridged``: the replicate-prefix answers until the prefix stream answers (frame 80 for ``*``), then prefix;
    a peek (``update_state=False``) in the middle of the bridge changes nothing."""
    reg, co = _pair("stgcn_mod", seed=11, clip_frames=90, warm_start=True, early_mode="bridged")
    x = _clip(84, reg, seed=11)
    streams = {}
    for mode in ("replicate-prefix", "prefix"):
        other = models.build("costgcn_mod", num_classes=10, clip_frames=90, warm_start=True, early_mode=mode)
        other.load_state_dict(reg.state_dict())
        streams[mode] = _run_steps(other.eval(), x)
    with torch.inference_mode():
        for t in range(84):
            if t == 40:
                co.forward_step(x[:, :, 0], update_state=False)
            y = co.forward_step(x[:, :, t])
            want = streams["replicate-prefix" if t < 80 else "prefix"][t]
            assert (y - want).abs().max().item() <= TOL, t
            assert (co._bridge is None) == (t >= 80) and not co.ready


@pytest.mark.parametrize("regular", ["stgcn_original", "str", "stgcn_mod"])
def test_exact_mode_is_the_regular_model_on_the_clip_so_far(regular):
    """``exact``: from the first frame, every 8th frame of a strided model (every frame of a ``*`` one from the
    first pooled position), the answer is the regular model on frames 0..t; the state is untouched by the flush, so
    the official answers follow as without it; a fresh answer comes only on the beat (held between)."""
    reg, co = _pair(regular, seed=12, warm_start=True, early_mode="exact")
    plain = models.build(models.twin(regular), num_classes=co.num_classes, layout=co.layout.name,
                         warm_start=True, early_mode="prefix").eval()
    plain.load_state_dict(reg.state_dict())
    x = _clip(384, reg, seed=12)
    outs, official = _run_steps(co, x), _run_steps(plain, x)
    strided = co.padding > 0
    early = [t for t in outs if not t >= 372] if strided else [t for t in outs if t < 299]
    assert early[:3] == ([0, 8, 16] if strided else [80, 81, 82])
    with torch.inference_mode():
        for t in (early[0], early[1], early[len(early) // 2], early[-1]):
            assert (outs[t] - reg(x[:, :, :t + 1])).abs().max().item() <= TOL, t
    for t in (t for t in official if t >= 372):  # the official answers are the same with or without the flush
        assert (outs[t] - official[t]).abs().max().item() <= TOL, t


def test_early_mode_is_checked():
    with pytest.raises(ValueError, match="early_mode must be one of replicate, prefix, replicate-prefix, bridged"):
        models.build("costgcn_mod", early_mode="guess")
