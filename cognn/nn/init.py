"""Weight initialisation as in the reference implementation (2s-AGCN style)."""
from __future__ import annotations

import math

from torch import nn


def init_weights(module: nn.Module, bs: float = 1.0) -> None:
    """Initialise one layer: convolutions N(0, sqrt(2 / (fan_out · bs))), BatchNorm weight = bs, Linear
    N(0, sqrt(2/bs)).

    ``bs`` is the reference's "branch scale": the number of summed branches for per-subset convolutions, 1e-6 for the
    BatchNorm that closes a graph unit (so each block starts close to its residual), the class count for the head.
    """
    if isinstance(module, nn.Conv2d | nn.Conv1d):
        n = module.out_channels
        for k in module.kernel_size:
            n *= k
        nn.init.normal_(module.weight, 0.0, math.sqrt(2.0 / (n * bs)))
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm1d | nn.BatchNorm2d):
        nn.init.constant_(module.weight, bs)
        nn.init.zeros_(module.bias)
    elif isinstance(module, nn.Linear):
        nn.init.normal_(module.weight, 0.0, math.sqrt(2.0 / bs))
        if module.bias is not None:
            nn.init.zeros_(module.bias)
