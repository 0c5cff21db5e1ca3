"""Models: the regular ST-GCN / AGCN / S-TR / original ST-GCN and their continual forms, behind one registry."""
from .base import EARLY_MODES, CoSkeletonNet, ModelSpec, SkeletonNet
from .family import Family
from .registry import FAMILIES, build, display_name, family, family_of, live_defaults, names, spec, twin

__all__ = ["build", "names", "spec", "twin", "display_name", "family", "family_of", "live_defaults", "FAMILIES",
           "Family",
           "SkeletonNet", "CoSkeletonNet", "ModelSpec", "EARLY_MODES"]
