"""Many streams' continual states as one batch: stacked for one batched ``forward_step``, split back afterwards.

A :class:`~cognn.models.base.CoSkeletonNet` step state (:meth:`~cognn.models.base.CoSkeletonNet.get_state`) holds
tensors with the batch as a leading dimension (ring buffers ``(N·M·V, 2K, C)``, residual histories ``(N·M, V, C)``, the
pool ``(P, N, C')``, blank-slot run counts per row) and a few scalars shared by the batch (ring positions and frame
counts, the pool position and count, frames seen). Two streams can share one batched step when those scalars mean the
same thing for both. :func:`normalize` rewrites the scalars to a canonical form that changes no answer (a count past
warm-up only matters modulo the stride; the frames seen matter to the step only as "the first" in most early
modes: ``ready`` comes from the stream's own count, :func:`ready_after`), and
:func:`stack` brings every ring and the pool to position 0 by reading each stream's window in order (the buffers hold
every frame twice, so the window of the last ``K`` frames is one slice). :func:`phase_key` is what must be equal for
two normalised states to be stacked. Every rewrite is a copy of the same numbers in the same order: the batched
step's answers are each stream's own, up to the rounding of a matrix product over more rows.

Not stacked: a ``bridged`` warm-up's second stream (:func:`phase_key` makes such a state its own group) and int8
products, whose per-call input scale couples the rows of a batch (:func:`can_batch`).
"""
from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from .base import CoSkeletonNet

__all__ = ["can_batch", "normalize", "phase_key", "ready_after", "stack", "split"]


def can_batch(net: CoSkeletonNet) -> bool:
    """The net's answers for one stream do not depend on the other rows of its batch (all precisions but int8)."""
    return net.precision != "int8"


def normalize(net: CoSkeletonNet, state: dict) -> dict:
    """``state`` with its counters in canonical form (a new dict; tensors shared): ring counts past warm-up reduced
    modulo the stride, the pool count and the frames seen capped where they stop mattering."""
    layers = []
    for block, (ring, hist) in zip(net.blocks(), state["layers"]):
        if ring is not None:
            count, buf, pos = ring
            k, pad, stride = block.tcn.kernel_size, block.tcn.padding, block.tcn.stride
            rel = count + pad - (k - 1)
            if rel >= 0:
                count = (k - 1 - pad) + rel % stride
            ring = (count, buf, pos)
        layers.append((ring, hist))
    return {**state, "layers": layers, "pool_count": min(state["pool_count"], net.pool_size),
            "steps": min(state["steps"], _steps_cap(net))}


def _steps_cap(net: CoSkeletonNet) -> int:
    """Frames seen beyond which a step does the same: 1 (only the first step differs) unless the warm-up's answers
    depend on the count (early modes ``exact``: its beat, ``bridged``: its second stream); then the receptive field.
    :func:`ready_after` answers ``ready`` from a stream's own count."""
    if net.warm_start and net.early_mode in ("exact", "bridged"):
        return net.receptive_field
    return 1


def ready_after(net: CoSkeletonNet, state: dict, steps: int) -> bool:
    """``ready`` of a stream whose state is ``state`` after ``steps`` frames (its own count, which the normalised
    state does not keep); asked of the net, whose step state is set aside for the question."""
    saved = net.steps_seen, net._warm_started
    net.steps_seen, net._warm_started = steps, bool(state["warm"])
    try:
        return bool(net.ready)
    finally:
        net.steps_seen, net._warm_started = saved


def phase_key(net: CoSkeletonNet, state: dict | None) -> tuple:
    """What two normalised states must share to step as one batch (``None``: a fresh stream)."""
    if state is None:
        return ("fresh",)
    if state.get("bridge") is not None:
        return ("alone", id(state))
    rings = tuple(None if ring is None else (ring[0], ring[1] is None, len(hist or ()))
                  for ring, hist in state["layers"])
    shape = state["shape"]
    return ("state", None if shape is None else tuple(shape[1:]), state["warm"], state["steps"],
            state["pool"] is None, state["pool_count"], rings)


def _rows(state: dict) -> int:
    shape = state["shape"]
    return 1 if shape is None else int(shape[0])


def _windows(bufs: list[Tensor], positions: list[int], k: int) -> Tensor:
    """The rings' buffers stacked with every one at position 0 (one copy when they all sit at the same position)."""
    if len(set(positions)) == 1:
        return torch.cat(bufs)
    win = torch.cat([b[:, p:p + k] for b, p in zip(bufs, positions)])
    return torch.cat([win, win], dim=1)


def stack(net: CoSkeletonNet, states: list[dict]) -> dict:
    """One state for the batch of ``states`` (normalised, equal :func:`phase_key`), rows in the order given."""
    first = states[0]
    n = sum(_rows(s) for s in states)
    layers: list[tuple[Any, Any]] = []
    for i, block in enumerate(net.blocks()):
        ring0, hist0 = first["layers"][i]
        if ring0 is None:
            layers.append((None, None))
            continue
        rings = [s["layers"][i][0] for s in states]
        positions = [r[2] for r in rings]
        ring: tuple[Any, Any, Any]
        if rings[0][1] is None:
            ring = (ring0[0], None, 0)
        else:
            same = len(set(positions)) == 1
            ring = (ring0[0], _windows([r[1] for r in rings], positions, block.tcn.kernel_size),
                    positions[0] if same else 0)
        hists = [s["layers"][i][1] for s in states]
        hist = [torch.cat([h[j] for h in hists]) for j in range(len(hist0))]
        layers.append((ring, hist))
    pool = first["pool"]
    pool_pos = first["pool_pos"]
    if pool is not None:
        pools = [s["pool"] for s in states]
        pos = [s["pool_pos"] for s in states]
        if len(set(pos)) == 1:
            pool = torch.cat(pools, dim=1)
        else:
            pool = torch.cat([torch.cat([p[q:], p[:q]]) for p, q in zip(pools, pos)], dim=1)
            pool_pos = 0
    shape = None if first["shape"] is None else (n, *first["shape"][1:])
    m = net.num_persons
    blank = [sum((list(s["blank"][i]) or [0] * (_rows(s) * m) for s in states), []) for i in range(len(first["blank"]))]
    return {"layers": layers, "pool": pool, "pool_pos": pool_pos, "pool_count": first["pool_count"],
            "shape": shape, "warm": first["warm"], "steps": first["steps"], "bridge": None, "blank": blank}


def split(net: CoSkeletonNet, state: dict, rows: list[int]) -> list[dict]:
    """The batch state cut into states of ``rows`` rows each (views of its tensors, not copies), normalised."""
    v = net.layout.num_joints
    m = net.num_persons
    out = []
    start = 0
    for n in rows:
        stop = start + n
        layers: list[tuple[Any, Any]] = []
        for ring, hist in state["layers"]:
            if ring is None:
                layers.append((None, None))
                continue
            count, buf, pos = ring
            part = None if buf is None else buf[start * m * v:stop * m * v]
            layers.append(((count, part, pos), [h[start * m:stop * m] for h in hist or ()]))
        pool = state["pool"]
        one: dict[str, Any] = {
            "layers": layers, "pool": None if pool is None else pool[:, start:stop], "pool_pos": state["pool_pos"],
            "pool_count": state["pool_count"],
            "shape": None if state["shape"] is None else (n, *state["shape"][1:]), "warm": state["warm"],
            "steps": state["steps"], "bridge": None,
            "blank": [list(r[start * m:stop * m]) for r in state["blank"]]}
        out.append(normalize(net, one))
        start = stop
    return out
