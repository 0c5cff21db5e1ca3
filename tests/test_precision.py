"""bfloat16 and int8 steps (cognn.nn.linear): the real Kinetics-400 ST-GCN on a real Kinetics skeleton stream gives the
float32 answers, the products fall back where int8 does not pay, and a wrong precision is refused."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import shared_data

from cognn import models
from cognn.nn.linear import LOW_PRECISION_MIN_MACS, FusedLinear
from cognn.online import OnlineRecognizer
from cognn.sources.open import open_source

pytestmark = pytest.mark.usefixtures("one_thread")  # conftest.py


def _answers(precision: str, frames: list) -> list[np.ndarray | None]:
    rec = OnlineRecognizer.from_weights("kinetics400")
    rec.model.set_precision(precision)
    out: list[np.ndarray | None] = []
    for f in frames:
        p = rec.step(f.skeleton, f.timestamp)
        out.append(p.probs if p.probs is not None and not p.held else None)
    return out


def test_low_precision_steps_agree_with_float32_on_real_weights():
    frames = list(open_source(shared_data("kinetics", "--33Lscn6sk.json"), layout="kinetics18", num_persons=2))
    ref = _answers("fp32", frames)
    answered = [i for i, r in enumerate(ref) if r is not None]
    assert len(answered) >= 20
    for precision, tol in (("bf16", 0.06), ("int8", 0.06)):
        got = _answers(precision, frames)
        assert [g is not None for g in got] == [r is not None for r in ref]
        agree = np.mean([ref[i].argmax() == got[i].argmax() for i in answered])
        worst = max(float(np.abs(ref[i] - got[i]).max()) for i in answered)
        assert agree >= 0.95 and worst <= tol, (precision, agree, worst)


def test_int8_keeps_small_products_in_float32_and_matches_large_ones():
    g = torch.Generator().manual_seed(0)
    small = FusedLinear(torch.randn(64, 192, generator=g), None, "int8")
    big_w, big_b = torch.randn(1152, 128, generator=g) * 0.05, torch.randn(128, generator=g)
    big = FusedLinear(big_w, big_b, "int8")
    assert 64 * 192 < LOW_PRECISION_MIN_MACS <= 1152 * 128
    x = torch.randn(50, 64, generator=g)
    assert torch.equal(small(x), x @ small.w)  # left in float32, bit for bit
    xb = torch.relu(torch.randn(50, 2304, generator=g))[:, :1152]  # a strided window, as a ring hands it over
    ref = torch.addmm(big_b, xb, big_w)
    assert (big(xb) - ref).abs().max().item() <= 0.02 * ref.abs().max().item()


def test_bf16_rings_store_bfloat16_where_the_product_is_bfloat16_and_precision_is_checked():
    co = models.build("costgcn_mod", num_classes=4, base_channels=32).eval()
    co.set_precision("bf16")
    with torch.inference_mode():
        for _ in range(90):  # every layer has had input
            co.forward_step(torch.randn(1, 3, 25, 2))
    rings = [layer._ring for layer in co.layers.values()]
    assert all(r is not None and r.buf is not None for r in rings)
    # the first layer's 9 x 32 x 32 window product is too small to gain from bfloat16; the last one's 9 x 128 x 128 is
    assert rings[0].buf.dtype == torch.float32 and rings[-1].buf.dtype == torch.bfloat16
    with pytest.raises(ValueError, match="unknown precision 'fp16'; use one of fp32, bf16, int8"):
        co.set_precision("fp16")


def test_precision_can_change_mid_stream_and_int8_computes_every_slot():
    """A stream goes on across precision changes (the ring history is converted); int8 quantizes each input with one
    scale for all rows, so it computes an empty person slot instead of leaving it out (which would not be exact)."""
    co = models.build("costgcn_mod", num_classes=4, base_channels=32, clip_frames=90).eval()
    x = torch.randn(120, 1, 3, 25, 2, generator=torch.Generator().manual_seed(3))
    x[..., 1] = 0  # one person
    with torch.inference_mode():
        for precision, frames in (("bf16", x[:90]), ("fp32", x[90:100]), ("int8", x[100:])):
            co.set_precision(precision)
            outs = [co.forward_step(f) for f in frames]
        assert outs[-1] is not None and torch.isfinite(outs[-1]).all()
    assert not any(lf.get("blank_out") for lf in co._fuse()[1:])  # int8: nothing skipped


def test_clean_state_keeps_the_step_weights_and_refresh_weights_rebuilds_them():
    co = models.build("costgcn_mod", num_classes=4, base_channels=32).eval()
    with torch.inference_mode():
        co.forward_step(torch.randn(1, 3, 25, 2))
        fused = co._fuse()
        co.clean_state()  # a new person or a gap: no refolding of BatchNorm, no repacking
        assert co._fuse() is fused
        with torch.no_grad():
            co.fc.bias.add_(1.0)
        co.refresh_weights()
        assert co._fuse() is not fused
