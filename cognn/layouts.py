"""Skeleton layouts (joint names, edges, centre joint) and the graph matrices built from them.

Two layouts are registered: ``ntu25`` (Kinect v2, NTU RGB+D) and ``kinetics18`` (OpenPose COCO-18, Kinetics-skeleton).
Edges are 0-based ``(child, parent)`` pairs pointing *inward*, toward the centre of the body, as in the reference code.

Two graph constructions are offered:

* :func:`adjacency_3subset` — identity, column-normalised inward, column-normalised outward (2s-AGCN / continual-
  skeletons; every model in :mod:`cognn.models` uses it).
* :func:`spatial_partition` — the original ST-GCN "spatial" strategy (root / closer / further), needed to load original
  ST-GCN checkpoints.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Layout", "NTU25", "KINETICS18", "get_layout", "layout_names", "adjacency_3subset",
           "spatial_partition", "normalize_digraph"]


@dataclass(frozen=True)
class Layout:
    """A skeleton layout: joint names, inward edges ``(child, parent)`` (0-based) and the centre joint."""

    name: str
    joint_names: tuple[str, ...]
    edges: tuple[tuple[int, int], ...]
    center: int
    #: joint used as origin by the reference preprocessing (spine-middle for NTU, neck for Kinetics)
    origin: int
    #: (child, parent) pairs for the bone modality; the centre maps to itself
    bone_pairs: tuple[tuple[int, int], ...] = field(default=())
    #: pairs of joint indices that swap under a left/right mirror
    mirror_pairs: tuple[tuple[int, int], ...] = field(default=())

    @property
    def num_joints(self) -> int:
        return len(self.joint_names)

    def index(self, joint: str) -> int:
        """0-based index of a joint by name."""
        return self.joint_names.index(joint)

    def parents(self) -> np.ndarray:
        """Parent of each joint along the inward edges (the centre is its own parent)."""
        par = np.arange(self.num_joints)
        for c, p in self.edges:
            par[c] = p
        return par


_NTU_NAMES = (
    "spine_base", "spine_mid", "neck", "head",
    "left_shoulder", "left_elbow", "left_wrist", "left_hand",
    "right_shoulder", "right_elbow", "right_wrist", "right_hand",
    "left_hip", "left_knee", "left_ankle", "left_foot",
    "right_hip", "right_knee", "right_ankle", "right_foot",
    "spine_shoulder", "left_hand_tip", "left_thumb", "right_hand_tip", "right_thumb",
)
# 1-based inward pairs of the reference NTU graph (24 edges)
_NTU_INWARD_1 = ((1, 2), (2, 21), (3, 21), (4, 3), (5, 21), (6, 5), (7, 6), (8, 7), (9, 21), (10, 9), (11, 10),
                 (12, 11), (13, 1), (14, 13), (15, 14), (16, 15), (17, 1), (18, 17), (19, 18), (20, 19), (22, 23),
                 (23, 8), (24, 25), (25, 12))

NTU25 = Layout(
    name="ntu25",
    joint_names=_NTU_NAMES,
    edges=tuple((i - 1, j - 1) for i, j in _NTU_INWARD_1),
    center=20,
    origin=1,
    bone_pairs=tuple((i - 1, j - 1) for i, j in _NTU_INWARD_1) + ((20, 20),),
    mirror_pairs=((4, 8), (5, 9), (6, 10), (7, 11), (12, 16), (13, 17), (14, 18), (15, 19), (21, 23), (22, 24)),
)

_KIN_NAMES = ("nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder", "left_elbow",
              "left_wrist", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle",
              "right_eye", "left_eye", "right_ear", "left_ear")
_KIN_INWARD = ((4, 3), (3, 2), (7, 6), (6, 5), (13, 12), (12, 11), (10, 9), (9, 8), (11, 5), (8, 2), (5, 1), (2, 1),
               (0, 1), (15, 0), (14, 0), (17, 15), (16, 14))

KINETICS18 = Layout(
    name="kinetics18",
    joint_names=_KIN_NAMES,
    edges=_KIN_INWARD,
    center=1,
    origin=1,
    # the reference bone modality roots the Kinetics skeleton at the nose (neck - nose), unlike the graph's centre
    bone_pairs=((0, 0), (1, 0), (2, 1), (3, 2), (4, 3), (5, 1), (6, 5), (7, 6), (8, 2), (9, 8), (10, 9), (11, 5),
                (12, 11), (13, 12), (14, 0), (15, 0), (16, 14), (17, 15)),
    mirror_pairs=((2, 5), (3, 6), (4, 7), (8, 11), (9, 12), (10, 13), (14, 15), (16, 17)),
)

_LAYOUTS = {NTU25.name: NTU25, KINETICS18.name: KINETICS18}


def layout_names() -> list[str]:
    """Names of the registered layouts."""
    return list(_LAYOUTS)


def get_layout(layout: str | Layout) -> Layout:
    """Look a layout up by name (``"ntu25"`` or ``"kinetics18"``); a :class:`Layout` is returned as is."""
    if isinstance(layout, Layout):
        return layout
    try:
        return _LAYOUTS[layout]
    except KeyError:
        raise ValueError(f"unknown layout {layout!r}; known layouts: {', '.join(_LAYOUTS)}") from None


def _edge_matrix(edges, v: int) -> np.ndarray:
    a = np.zeros((v, v), dtype=np.float32)
    for i, j in edges:
        a[j, i] = 1.0
    return a


def normalize_digraph(a: np.ndarray) -> np.ndarray:
    """``A · D⁻¹`` with ``D`` the column sums; zero columns stay zero."""
    d = a.sum(0)
    inv = np.zeros_like(d)
    nz = d > 0
    inv[nz] = 1.0 / d[nz]
    return (a * inv[None, :]).astype(np.float32)


def adjacency_3subset(layout: str | Layout) -> np.ndarray:
    """The reference ``(3, V, V)`` graph: identity, column-normalised inward, column-normalised outward."""
    lay = get_layout(layout)
    v = lay.num_joints
    ident = np.eye(v, dtype=np.float32)
    inward = normalize_digraph(_edge_matrix(lay.edges, v))
    outward = normalize_digraph(_edge_matrix([(j, i) for i, j in lay.edges], v))
    return np.stack([ident, inward, outward])


def _hop_distance(v: int, edges, max_hop: int = 1) -> np.ndarray:
    a = np.zeros((v, v))
    for i, j in edges:
        a[i, j] = a[j, i] = 1
    hop = np.full((v, v), np.inf)
    reach = [np.linalg.matrix_power(a + np.eye(v), d) for d in range(max_hop + 1)]
    arrive = np.stack(reach) > 0
    for d in range(max_hop, -1, -1):
        hop[arrive[d]] = d
    return hop


def spatial_partition(layout: str | Layout, max_hop: int = 1) -> np.ndarray:
    """The original ST-GCN "spatial" partition ``(3, V, V)``: root, closer-to-centre, further-from-centre.

    One adjacency with self-loops is column-normalised once and then split by each neighbour's hop distance to the
    centre joint relative to the joint itself, so the three subsets' columns sum to 1 together.
    """
    lay = get_layout(layout)
    v = lay.num_joints
    hop = _hop_distance(v, lay.edges, max_hop)
    adj = np.zeros((v, v))
    for h in range(max_hop + 1):
        adj[hop == h] = 1
    norm = normalize_digraph(adj.astype(np.float32))
    c = lay.center
    out = []
    for h in range(max_hop + 1):
        root = np.zeros((v, v), np.float32)
        close = np.zeros((v, v), np.float32)
        further = np.zeros((v, v), np.float32)
        for i in range(v):
            for j in range(v):
                if hop[j, i] == h:
                    if hop[j, c] == hop[i, c]:
                        root[j, i] = norm[j, i]
                    elif hop[j, c] > hop[i, c]:
                        close[j, i] = norm[j, i]
                    else:
                        further[j, i] = norm[j, i]
        if h == 0:
            out.append(root)
        else:
            out.append(root + close)
            out.append(further)
    return np.stack(out)
