"""Generated skeleton motion: a kinematic NTU-25 body doing everyday gestures, seen through a simulated pose estimator.

Used to train the bundled gesture model (``weights/gestures_costgcn_mod.safetensors``) without a benchmark dataset.
"""
from __future__ import annotations

from .generate import CLASSES, GENERATOR_VERSION, generate_clip, generate_dataset, generate_person

__all__ = ["CLASSES", "GENERATOR_VERSION", "generate_clip", "generate_dataset", "generate_person"]
