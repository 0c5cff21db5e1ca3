"""The shared skeleton network (ST-GCN / AGCN / S-TR / original ST-GCN backbone) and its continual form.

Regular: ``forward(x)`` with ``x`` ``(N, C, T, V, M)`` -> logits ``(N, num_classes)``: data BatchNorm (over ``M·V·C``,
or over ``V·C`` shared by every person, as the family declares), persons folded into the batch, 10 blocks, global
average over ``T·V`` and then ``M``, a linear head.

Continual (:class:`CoSkeletonNet`): the same modules and parameter names (so it loads the regular twin's
``state_dict()`` as it is) plus frame-by-frame inference with the meaning of the continual-inference library:
``forward_step(frame)`` with ``frame`` ``(N, C, V, M)`` -> logits or ``None``; ``forward_steps(x)``; ``clean_state()``;
``receptive_field``, ``delay``, ``stride``. See ``docs/continual.md`` for the output timing of each model.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping, ValuesView
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..layouts import Layout, get_layout
from ..nn.block import STBlock
from ..nn.fold import bn_affine
from ..nn.init import init_weights
from ..nn.linear import FusedLinear, check_precision
from ..nn.types import Fused
from .family import Family

if TYPE_CHECKING:
    from typing_extensions import Self

#: (in_channels or None for the data channels, out_channels, temporal stride of the regular model) at the reference
#: width; ``base_channels`` scales every layer by ``base_channels / 64``
BACKBONE = ((None, 64, 1), (64, 64, 1), (64, 64, 1), (64, 64, 1), (64, 128, 2), (128, 128, 1), (128, 128, 1),
            (128, 256, 2), (256, 256, 1), (256, 256, 1))
KERNEL = 9
BASE_CHANNELS = 64
#: how a continual model answers before its receptive field is full, when ``warm_start`` is on (docs/continual.md)
EARLY_MODES = ("replicate", "prefix", "replicate-prefix", "bridged", "exact")
#: frames between two answers of the early mode ``exact`` of a padded (strided) model: 4 answers a second at 30 fps
EXACT_BEAT = 8
DEFAULT_EARLY_MODE = "replicate"


def backbone(base_channels: int = BASE_CHANNELS) -> tuple[tuple[int | None, int, int], ...]:
    """The layer table ``(in, out, stride)`` for a backbone whose first layer has ``base_channels`` channels."""
    if base_channels < 8 or base_channels % 8:
        raise ValueError(f"base_channels must be a positive multiple of 8, got {base_channels}")
    k = base_channels / BASE_CHANNELS
    return tuple((None if cin is None else int(cin * k), int(cout * k), stride) for cin, cout, stride in BACKBONE)


@dataclass(frozen=True)
class ModelSpec:
    """What distinguishes one registered model from another."""

    name: str
    family: str  # Family.name: "stgcn" | "agcn" | "str" | "stgcn_original"
    mod: bool  # the paper's `*` variant: stride 1, no temporal padding
    continual: bool


class SkeletonNet(nn.Module):
    """The regular network of a :class:`~cognn.models.family.Family`; ``mod=True`` is the stride-1, unpadded variant.

    ``options`` are the family's own model options (e.g. ``edge_importance`` of the original ST-GCN).
    """

    #: set on models loaded by :func:`cognn.checkpoints.model_from_checkpoint`: the file's metadata and family
    checkpoint_meta: dict[str, Any]
    checkpoint_family: str

    def __init__(self, spec: ModelSpec, family: Family, num_classes: int = 60, layout: str | Layout = "ntu25",
                 in_channels: int = 3, num_persons: int = 2, base_channels: int = BASE_CHANNELS,
                 **options: Any) -> None:
        super().__init__()
        if num_classes < 1:
            raise ValueError(f"num_classes must be positive, got {num_classes}")
        unknown = sorted(set(options) - set(family.options))
        if unknown:
            known = ", ".join(["base_channels", *family.options])
            raise TypeError(f"{spec.name} has no option {unknown[0]!r} (its options: {known})")
        self.spec = spec
        self.family = family
        self.options = {**family.options, **options}
        self.layout = get_layout(layout)
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.num_persons = num_persons
        self.base_channels = base_channels
        table = backbone(base_channels)
        v = self.layout.num_joints
        A = torch.from_numpy(family.graph(self.layout)).float()
        bn_persons = num_persons if family.data_bn == "persons" else 1
        self.data_bn = nn.BatchNorm1d(bn_persons * in_channels * v)
        pad = 0 if spec.mod else (KERNEL - 1) // 2
        make_unit = family.units(spec.mod, spec.continual, self.options)
        layers = {}
        for i, (cin, cout, stride) in enumerate(table):
            cin = in_channels if cin is None else cin
            layers[f"layer{i + 1}"] = STBlock(make_unit(i, cin, cout, A), cin, cout, stride=1 if spec.mod else stride,
                                              residual=i > 0, kernel_size=KERNEL, padding=pad)
        self.layers = nn.ModuleDict(layers)
        self.fc = nn.Linear(table[-1][1], num_classes)
        init_weights(self.data_bn)
        init_weights(self.fc, bs=num_classes)

    @property
    def name(self) -> str:
        return self.spec.name

    def blocks(self) -> ValuesView[STBlock]:
        """The blocks of :attr:`layers`, in order (``layers`` holds only :class:`~cognn.nn.block.STBlock`)."""
        return cast("ValuesView[STBlock]", self.layers.values())

    def _check_clip(self, x: Tensor) -> None:
        if x.dim() != 5:
            raise ValueError(f"{self.name}: expected a clip of shape (N, C, T, V, M), got {tuple(x.shape)}")
        _, c, _, v, m = x.shape
        if (c, v, m) != (self.in_channels, self.layout.num_joints, self.num_persons):
            raise ValueError(f"{self.name}: expected (N, {self.in_channels}, T, {self.layout.num_joints}, "
                             f"{self.num_persons}) for layout {self.layout.name}, got {tuple(x.shape)}")

    def features(self, x: Tensor) -> Tensor:
        """Backbone over a clip: ``(N, C, T, V, M)`` -> ``(N·M, C', T', V)``, ``C' = 4·base_channels`` (256)."""
        self._check_clip(x)
        n, c, t, v, m = x.shape
        x = x.permute(0, 4, 3, 1, 2)  # (N, M, V, C, T)
        if self.family.data_bn == "persons":
            x = self.data_bn(x.reshape(n, m * v * c, t))
        else:
            x = self.data_bn(x.reshape(n * m, v * c, t))
        x = x.view(n, m, v, c, t).permute(0, 1, 3, 4, 2).reshape(n * m, c, t, v)
        for layer in self.layers.values():
            x = layer(x)
        return x

    def forward(self, x: Tensor) -> Tensor:
        n, m = x.shape[0], x.shape[-1]
        f = self.features(x)
        f = f.view(n, m, f.shape[1], -1).mean(3).mean(1)
        return self.fc(f)


class CoSkeletonNet(SkeletonNet):
    """Continual form of :class:`SkeletonNet` (CoST-GCN, CoAGCN, CoS-TR, the original ST-GCN's and their ``*``
    variants).

    ``warm_start=True`` gives predictions before the receptive field is full, the way ``early_mode`` says
    (:data:`EARLY_MODES`, docs/continual.md): ``"replicate"`` fills every internal buffer with the first frame after a
    :meth:`clean_state` (as "replicate" padding does), so predictions come from the first frame on; ``"prefix"``
    starts the layers empty (the clip model's zero padding) and averages only the pooled positions produced so far,
    answering from the first pooled position on (for the ``*`` models exactly the regular model on the frames seen so
    far); ``"replicate-prefix"`` replicates the first frame through the layers but pools only the positions produced
    so far; ``"bridged"`` is ``"prefix"`` with the answers of a ``"replicate-prefix"`` stream, run beside it, until
    the prefix stream answers (twice the work for those first frames); ``"exact"`` answers with exactly the regular
    model on the frames seen so far (every :data:`EXACT_BEAT` frames for a padded model, every frame for a ``*``
    one): the outputs the padded layers still owe are computed as the clip model computes them (zero padding at the
    right end), on a copy of the state (some ten steps' work per answer, only while warming up).
    :attr:`ready` says when a prediction is the official one.
    """

    def __init__(self, *args: Any, clip_frames: int = 300, warm_start: bool = False,
                 early_mode: str = DEFAULT_EARLY_MODE, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if early_mode not in EARLY_MODES:
            raise ValueError(f"early_mode must be one of {', '.join(EARLY_MODES)}, not {early_mode!r}")
        self.clip_frames = clip_frames
        self.warm_start = warm_start
        self.early_mode = early_mode
        #: precision of the step's matrix products (cognn.nn.linear: fp32, bf16, int8); clip mode is always float32
        self.precision = "fp32"
        #: leave settled all-zero person slots out of the step (exact; see _layer_step); False computes every slot.
        #: Not in int8: its products quantize each input with one scale for all rows, so a row's result depends on
        #: the rows beside it and leaving one out would change the others
        self.skip_blank = True
        rf, pad, stride = self._backbone_geometry()
        shortest = rf - pad  # the first pooled position must hold at least one real frame
        if clip_frames < shortest:
            raise ValueError(f"{self.name}: clip_frames must be at least {shortest} for this network, "
                             f"got {clip_frames}")
        self.pool_size = math.ceil((clip_frames - rf + 2 * pad + 1) / stride)
        self.pool_padding = max(0, self.pool_size - math.ceil((clip_frames - rf + pad + 1) / stride))
        self._fused: list[Fused] | None = None
        self.clean_state()

    # -- geometry ------------------------------------------------------------------------------------------------------
    def _backbone_geometry(self) -> tuple[int, int, int]:
        """(receptive field, padding, stride) of the layer stack in frames: fixed at construction, computed once
        (the step asks for it every frame)."""
        cached: tuple[int, int, int] | None = self.__dict__.get("_geometry")
        if cached is None:
            rf, pad, stride = 1, 0, 1
            for layer in self.blocks():
                rf += (layer.receptive_field - 1) * stride
                pad += layer.padding * stride
                stride *= layer.stride
            cached = self.__dict__["_geometry"] = (rf, pad, stride)
        return cached

    @property
    def receptive_field(self) -> int:
        """Frames that influence one prediction."""
        rf, _, stride = self._backbone_geometry()
        return rf + (self.pool_size - 1) * stride

    @property
    def stride(self) -> int:
        """Frames between two predictions."""
        return self._backbone_geometry()[2]

    @property
    def padding(self) -> int:
        _, pad, stride = self._backbone_geometry()
        return pad + self.pool_padding * stride

    @property
    def delay(self) -> int:
        """0-based step of the first prediction after :meth:`clean_state` (``receptive_field − 1 − padding``)."""
        return self.receptive_field - 1 - self.padding

    @property
    def ready(self) -> bool:
        """True when the latest prediction is exact: the one a cold stream gives (after a replicated start: once the
        receptive field holds only frames that were fed; with a prefix pool: once the pool is full)."""
        if self._warm_started:
            needed = self.receptive_field - 1
        elif self._prefix_pool():
            needed = self.delay + self.pool_padding * self.stride
        else:
            needed = self.delay
        return self.steps_seen > needed

    def _prefix_pool(self) -> bool:
        return self.warm_start and self.early_mode != "replicate"

    def _exact_due(self) -> bool:
        """An early ``exact`` answer is due at this step (warming up, on the beat)."""
        beat = EXACT_BEAT if self.padding else 1
        return (self.warm_start and self.early_mode == "exact" and not self.ready
                and (self.steps_seen - 1) % beat == 0)

    # -- state ---------------------------------------------------------------------------------------------------------
    def clean_state(self) -> None:
        """Forget every frame seen so far (call on a new source or a seek). The step weights (BatchNorm folded,
        products packed for the precision) are kept: after editing parameters in place call :meth:`refresh_weights`
        (``load_state_dict``, ``.to()``, ``train()`` and :meth:`set_precision` do it themselves)."""
        for layer in self.blocks():
            layer.clean_state()
        self._pool: Tensor | None = None
        self._pool_pos = 0
        self._pool_count = 0
        self._shape: tuple[int, ...] | None = None
        self._warm_started = False
        self._bridge: dict | None = None  # the replicate-prefix stream of a bridged warm-up
        self.steps_seen = 0
        #: per layer and batch row: how many blank-constant inputs in a row the layer has been fed (see _layer_step)
        self._blank_runs: list[list[int]] = [[] for _ in self.layers]

    def refresh_weights(self) -> None:
        """Rebuild the step weights from the parameters at the next step (after editing them in place)."""
        self._fused = None

    def get_state(self, copy: bool = True) -> dict:
        """A copy of the step state (restore it with :meth:`set_state`). ``copy=False`` hands the buffers over
        without copying them: the model must then be given another state (or :meth:`clean_state`) before it steps."""
        return {"layers": [layer.state(copy) for layer in self.blocks()],
                "pool": self._pool.clone() if copy and self._pool is not None else self._pool,
                "pool_pos": self._pool_pos, "pool_count": self._pool_count, "shape": self._shape,
                "warm": self._warm_started, "steps": self.steps_seen, "bridge": _clone(self._bridge),
                "blank": [list(r) for r in self._blank_runs]}

    def set_state(self, state: dict) -> None:
        """Continue from a state of :meth:`get_state` (its buffers are used, not copied)."""
        for layer, s in zip(self.blocks(), state["layers"]):
            layer.set_state(s)
        self._pool = state["pool"]
        self._pool_pos, self._pool_count = state["pool_pos"], state["pool_count"]
        self._shape, self._warm_started, self.steps_seen = state["shape"], state["warm"], state["steps"]
        self._bridge = _clone(state.get("bridge"))
        blank = state.get("blank")
        self._blank_runs = [list(r) for r in blank] if blank is not None else [[] for _ in self.layers]

    def train(self, mode: bool = True) -> Self:
        self._fused = None
        return super().train(mode)

    def _apply(self, fn: Callable[[Tensor], Tensor], *args: Any, **kwargs: Any) -> Self:
        self._fused = None
        out = super()._apply(fn, *args, **kwargs)
        if getattr(self, "_pool", None) is not None:
            self.clean_state()
        return out

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True, assign: bool = False) -> Any:
        self.clean_state()
        self.refresh_weights()
        return super().load_state_dict(state_dict, strict=strict, assign=assign)

    def set_precision(self, precision: str) -> None:
        """Run the step's matrix products in ``precision`` (``fp32``, ``bf16`` or ``int8``, :mod:`cognn.nn.linear`)
        from the next step on; the state is kept."""
        self.precision = check_precision(precision)
        self._fused = None

    def _fuse(self) -> list[Fused]:
        if self._fused is None:
            with torch.no_grad():
                scale, shift = bn_affine(self.data_bn)
                if self.family.data_bn == "shared":  # one BN for every person: index m·V·C + v·C + c
                    scale, shift = scale.repeat(self.num_persons), shift.repeat(self.num_persons)
                head = {"in_scale": scale, "in_shift": shift}
                fused = [head] + [layer.fuse() for layer in self.blocks()]
                self._fused = _with_precision(fused, self.precision)
        return self._fused

    # -- clip mode -----------------------------------------------------------------------------------------------------
    def forward(self, x: Tensor) -> Tensor:
        """Clip mode as in the official continual models: the first position of the temporal average pool.

        For the ``*`` models and a 300-frame clip this equals the regular model; for longer clips it is the regular
        model on the first ``clip_frames`` frames. For the strided models it is the sum of the first
        ``pool_size − pool_padding`` pooled positions divided by ``pool_size`` (the official zero-padded pool).
        """
        n, m = x.shape[0], x.shape[-1]
        f = self.features(x)
        f = f.view(n, m, f.shape[1], f.shape[2], -1).mean(4).mean(1)  # (N, C', T')
        need = self.pool_size - self.pool_padding
        if f.shape[-1] < need:
            raise ValueError(f"{self.name}: clip mode needs at least {self.clip_frames} frames "
                             f"({need} pooled positions), got {x.shape[2]} frames")
        return self.fc(f[..., :need].sum(-1) / self.pool_size)

    # -- step mode -----------------------------------------------------------------------------------------------------
    def forward_step(self, frame: Tensor, update_state: bool = True) -> Tensor | None:
        """Feed one frame ``(N, C, V, M)``; return logits ``(N, num_classes)`` when a prediction is due, else
        ``None``."""
        if frame.dim() != 4:
            raise ValueError(f"{self.name}: expected a frame of shape (N, C, V, M), got {tuple(frame.shape)}")
        n, c, v, m = frame.shape
        if (c, v, m) != (self.in_channels, self.layout.num_joints, self.num_persons):
            raise ValueError(f"{self.name}: expected a frame (N, {self.in_channels}, {self.layout.num_joints}, "
                             f"{self.num_persons}), got {tuple(frame.shape)}")
        if not update_state:
            saved = self.get_state()
            try:
                return self.forward_step(frame)
            finally:
                self.set_state(saved)
        if self._shape != tuple(frame.shape):
            if self._shape is not None:
                self.clean_state()
            self._shape = tuple(frame.shape)
        fused = self._fuse()
        first = self.steps_seen == 0
        replicate = self.warm_start and first and self.early_mode in ("replicate", "replicate-prefix")
        self._warm_started = self._warm_started or replicate
        self.steps_seen += 1
        prefix = self._prefix_pool()
        y = self._stream_step(frame, fused, replicate, prefix)
        if self._exact_due():
            return self._flushed(fused)
        if self.warm_start and self.early_mode == "exact" and not self.ready:
            return None  # held until the next beat
        if self.warm_start and self.early_mode == "bridged" and (first or self._bridge is not None):
            if y is None:
                y = self._bridge_step(frame, fused, first)
            else:
                self._bridge = None  # the prefix stream answers from now on
        return y

    def _stream_step(self, frame: Tensor, fused: list[Fused], replicate: bool, prefix: bool) -> Tensor | None:
        """One frame through the layers and the pool of the current stream."""
        n, c, v, m = frame.shape
        with torch.no_grad():
            head = fused[0]
            x = frame.permute(0, 3, 2, 1).reshape(n, m * v * c) * head["in_scale"] + head["in_shift"]
            x = x.view(n * m, v, c)
            skip = self.skip_blank and self.precision != "int8" and not frame.is_meta
            blank = ((frame.abs().amax(dim=(1, 2)) == 0).view(-1).tolist() if skip
                     else [False] * (n * m))  # (N·M,): all-zero person slots
            for i, (layer, lf) in enumerate(zip(self.blocks(), fused[1:])):
                x, blank = self._layer_step(i, layer, lf, x, replicate, blank, m)
                if x is None:
                    return None
            f = x.view(n, m, v, -1).mean(2).mean(1)
            return self._pool_step(f, replicate and not prefix, prefix)

    def _layer_step(self, i: int, layer: STBlock, lf: Fused, x: Tensor, replicate: bool, blank: list[bool],
                    m: int) -> tuple[Tensor | None, list[bool]]:
        """Layer ``i``'s step with its settled blank rows left out; the output ``(B, V, C_out)`` (or None) and which
        of its rows are the blank constant.

        A blank person slot (all-zero input) feeds every layer a constant once the layers below have settled, and a
        layer whose ring and residual history hold only that constant (``layer.settle`` repeated inputs) gives a
        fixed output, a function of the weights only. It is computed once (the first time a row settles, computed
        as usual), kept with the fused weights, and copied in from then on: the row is neither computed nor written
        to the ring, whose entries already hold the constant. A person arriving in the slot is a non-blank input:
        its row is computed again, on a history equal to the one computing it all along would have left.
        """
        rows = len(blank)
        if len(self._blank_runs[i]) != rows:
            self._blank_runs[i] = [0] * rows
        runs = self._blank_runs[i]
        if not any(blank):  # everybody present (or every slot computed): nothing to skip or count
            if any(runs):
                runs[:] = [0] * rows
            return layer.step(x, lf, replicate), blank
        # slot -> its settled output (V, C_out), for these weights
        cache: dict[int, Tensor] = lf.setdefault("blank_out", {})
        skip = [blank[r] and runs[r] >= layer.settle and (r % m) in cache and not replicate for r in range(rows)]
        for r in range(rows):
            runs[r] = (layer.settle if replicate else runs[r] + 1) if blank[r] else 0
        settled = [blank[r] and runs[r] >= layer.settle for r in range(rows)]
        if not any(skip):
            y = layer.step(x, lf, replicate)
            if y is not None:
                for r in range(rows):
                    if settled[r] and (r % m) not in cache:
                        cache[r % m] = y[r].clone()
            return y, settled
        active = [r for r in range(rows) if not skip[r]]
        if active and active[-1] - active[0] + 1 != len(active):  # not one range of rows: compute them all
            return layer.step(x, lf, replicate), settled
        sel = slice(active[0], active[-1] + 1) if active else slice(0, 0)
        y = layer.step(x, lf, replicate, rows=sel)
        if y is None:
            return None, settled
        out = x.new_empty(rows, y.shape[1], y.shape[2])
        out[sel] = y
        for r in range(rows):
            if skip[r]:
                out[r] = cache[r % m]
            elif settled[r] and (r % m) not in cache:
                cache[r % m] = out[r].clone()
        return out, settled

    def _flushed(self, fused: list[Fused]) -> Tensor | None:
        """The regular model on the frames seen so far: every layer's owed outputs released by its right zero
        padding and carried through the layers above, the pool averaged over every position; on a copy of the state,
        which is restored."""
        saved = self.get_state()
        try:
            with torch.no_grad():
                carried: list[Tensor] = []
                for layer, lf in zip(self.blocks(), fused[1:]):
                    out = [y for y in (layer.step(x, lf) for x in carried) if y is not None]
                    for _ in range(layer.padding):
                        y = layer.pad_step(lf)
                        if y is not None:
                            out.append(y)
                    carried = out
                assert self._shape is not None  # set by the step this answer belongs to
                n, m = self._shape[0], self._shape[3]
                held = [] if self._pool is None else [self._pool[i] for i in range(min(self._pool_count,
                                                                                        self.pool_size))]
                pooled = held + [x.view(n, m, x.shape[1], -1).mean(2).mean(1) for x in carried]
                if not pooled:  # a * model before its first position: the regular * model has no answer yet
                    return None
                f = torch.stack(pooled).mean(0)
                return F.linear(f, self.fc.weight, self.fc.bias)
        finally:
            self.set_state(saved)

    def _bridge_step(self, frame: Tensor, fused: list[Fused], first: bool) -> Tensor | None:
        """A bridged warm-up: the same frame through the replicate-prefix stream kept beside the main one."""
        main = self.get_state()
        bridge = self._bridge
        if first:
            bridge = {**main, "layers": [(None, None)] * len(self.layers), "pool": None, "pool_pos": 0,
                      "pool_count": 0, "warm": False, "bridge": None, "blank": None}
        assert bridge is not None  # kept from the first step of the warm-up on
        self.set_state(bridge)
        try:
            y = self._stream_step(frame, fused, replicate=first, prefix=True)
            bridge = {**self.get_state(), "bridge": None}
        finally:
            self.set_state(main)
        self._bridge = bridge
        return y

    def _pool_step(self, f: Tensor, replicate: bool, prefix: bool) -> Tensor | None:
        """Add pooled position ``f`` ``(N, C')``; the prediction, or None while the pool is not due to answer.

        Official pool: a zero-filled buffer of ``pool_size``, always divided by ``pool_size``. ``prefix``: divided by
        the positions it holds, answering from the first one.
        """
        p = self.pool_size
        if self._pool is None:
            self._pool = f.new_zeros(p, *f.shape)
        if replicate:
            self._pool.copy_(f.expand_as(self._pool))
            self._pool_count = p
        else:
            self._pool[self._pool_pos] = f
            self._pool_pos = (self._pool_pos + 1) % p
            self._pool_count += 1
        if prefix:
            return F.linear(self._pool.sum(0) / min(self._pool_count, p), self.fc.weight, self.fc.bias)
        if self._pool_count < p - self.pool_padding:
            return None
        return F.linear(self._pool.sum(0) / p, self.fc.weight, self.fc.bias)

    def forward_steps(self, x: Tensor, update_state: bool = True) -> Tensor | None:
        """Feed a clip ``(N, C, T, V, M)`` frame by frame; the predictions stacked as ``(N, num_classes, T_out)``.

        Returns ``None`` if no step produced a prediction.
        """
        self._check_clip(x)
        saved = None if update_state else self.get_state()
        outs = []
        for t in range(x.shape[2]):
            y = self.forward_step(x[:, :, t])
            if y is not None:
                outs.append(y)
        if saved is not None:
            self.set_state(saved)
        return torch.stack(outs, dim=2) if outs else None


def _with_precision(tree: Any, precision: str) -> Any:
    """The fused weights with every product (:class:`~cognn.nn.linear.FusedLinear`) in ``precision``."""
    if isinstance(tree, FusedLinear):
        return tree.to(precision)
    if isinstance(tree, dict):
        return {k: _with_precision(v, precision) for k, v in tree.items()}
    if isinstance(tree, list):
        return [_with_precision(v, precision) for v in tree]
    return tree


def _clone(state: Any) -> Any:
    """A deep copy of a step state's tensors (containers rebuilt, other values shared)."""
    if isinstance(state, Tensor):
        return state.clone()
    if isinstance(state, dict):
        return {k: _clone(v) for k, v in state.items()}
    if isinstance(state, (list, tuple)):
        return type(state)(_clone(v) for v in state)
    return state
