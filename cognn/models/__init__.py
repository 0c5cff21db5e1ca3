"""Models: the regular ST-GCN / AGCN / S-TR and their continual forms, behind one registry."""
from .base import CoSkeletonNet, ModelSpec, SkeletonNet
from .registry import build, display_name, names, spec, twin

__all__ = ["build", "names", "spec", "twin", "display_name", "SkeletonNet", "CoSkeletonNet", "ModelSpec"]
