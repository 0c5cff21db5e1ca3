"""An empty person slot is left out of the step once it has settled, and the step outputs do not change.

Every continual family (``*`` and strided, the original ST-GCN included) is stepped over one stream twice — with
blank slots skipped (the default) and with every slot computed — while a second person is absent, arrives, leaves
and arrives again; the outputs agree to float32 precision at every step, and the skip really happened (each layer
kept the settled output of the blank slot).
"""
import pytest
import torch
from helpers import randomise

from cognn import models

TOL = 1e-5

#: (regular model, layout): every family, ``*`` and strided
FAMILIES = [("stgcn_mod", "ntu25"), ("agcn_mod", "ntu25"), ("str_mod", "ntu25"), ("stgcn_original_mod", "kinetics18"),
            ("stgcn", "ntu25"), ("agcn", "ntu25"), ("str", "ntu25"), ("stgcn_original", "kinetics18")]


def _twins(regular: str, layout: str):
    """The continual model twice (skip on, skip off), slim and with a short pool so that it answers early."""
    kw = {} if regular.startswith("stgcn_original") else {"base_channels": 32}
    reg = randomise(models.build(regular, num_classes=5, layout=layout, **kw), seed=5)
    pair = []
    for skip in (True, False):
        co = models.build(models.twin(regular), num_classes=5, layout=layout, clip_frames=100, **kw)
        co.load_state_dict(reg.state_dict())
        co.eval()
        co.skip_blank = skip
        pair.append(co)
    return pair


def _stream(model, frames: int, present: list[tuple[int, int]], slot: int) -> torch.Tensor:
    """(1, C, T, V, 2) random skeletons: slot ``1 - slot`` always there, ``slot`` only in the ``present`` spans."""
    g = torch.Generator().manual_seed(9)
    x = torch.randn(1, model.in_channels, frames, model.layout.num_joints, 2, generator=g)
    keep = torch.zeros(frames, dtype=torch.bool)
    for a, b in present:
        keep[a:b] = True
    x[:, :, ~keep, :, slot] = 0
    return x


def _compare(skipping, computing, x: torch.Tensor) -> int:
    answered = 0
    with torch.inference_mode():
        for t in range(x.shape[2]):
            a, b = skipping.forward_step(x[:, :, t]), computing.forward_step(x[:, :, t])
            assert (a is None) == (b is None), t
            if a is not None:
                assert (a - b).abs().max().item() <= TOL, t
                answered += 1
    return answered


@pytest.mark.parametrize("regular,layout", FAMILIES)
def test_blank_slot_skipped_exactly(regular, layout):
    skipping, computing = _twins(regular, layout)
    x = _stream(skipping, 420, present=[(190, 240), (400, 420)], slot=1)
    assert _compare(skipping, computing, x) > 0
    fused = skipping._fuse()
    assert all(1 in lf.get("blank_out", {}) for lf in fused[1:])  # every layer settled slot 1 and reused it
    assert not any(lf.get("blank_out") for lf in computing._fuse()[1:])


def test_first_slot_blank_and_nobody_at_all():
    """The blank slot may be the first; with nobody in view every row is settled and nothing is computed."""
    skipping, computing = _twins("stgcn_mod", "ntu25")
    x = _stream(skipping, 360, present=[(150, 200)], slot=0)
    x[:, :, 240:] = 0  # everybody leaves
    assert _compare(skipping, computing, x) > 0
    assert all({0, 1} <= set(lf["blank_out"]) for lf in skipping._fuse()[1:])


def test_state_copies_carry_the_blank_bookkeeping():
    """get_state/set_state (person streams, update_state=False) keep which rows are settled: a restored state steps
    exactly as an uninterrupted one."""
    skipping, computing = _twins("agcn_mod", "ntu25")
    x = _stream(skipping, 260, present=[(200, 260)], slot=1)
    with torch.inference_mode():
        for t in range(180):
            skipping.forward_step(x[:, :, t])
            computing.forward_step(x[:, :, t])
        saved = skipping.get_state()
        skipping.clean_state()
        skipping.set_state(saved)
    assert _compare(skipping, computing, x[:, :, 180:]) > 0


def test_precision_change_keeps_skipping_exact():
    """bfloat16 rows are computed independently, so leaving a slot out stays exact there too (against the same
    model computing every slot in bfloat16)."""
    skipping, computing = _twins("stgcn_mod", "ntu25")
    for m in (skipping, computing):
        m.set_precision("bf16")
    x = _stream(skipping, 260, present=[(200, 260)], slot=1)
    assert _compare(skipping, computing, x) > 0
