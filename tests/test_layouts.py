"""Layouts and graph construction."""
import numpy as np
import pytest

from cognn import layouts
from cognn.layouts import KINETICS18, NTU25, adjacency_3subset, get_layout, spatial_partition


def test_registry():
    assert layouts.layout_names() == ["ntu25", "kinetics18"]
    assert get_layout("ntu25") is NTU25
    with pytest.raises(ValueError, match="unknown layout 'coco'"):
        get_layout("coco")


@pytest.mark.parametrize("lay, n_joints, n_edges, center", [(NTU25, 25, 24, 20), (KINETICS18, 18, 17, 1)])
def test_layout_facts(lay, n_joints, n_edges, center):
    assert lay.num_joints == n_joints == len(set(lay.joint_names))
    assert len(lay.edges) == n_edges
    assert lay.center == center
    # a tree: every joint but the centre has exactly one parent
    children = [c for c, _ in lay.edges]
    assert sorted(children + [center]) == list(range(n_joints)) or len(set(children)) == n_edges


def test_ntu_names_and_edges():
    assert NTU25.joint_names[20] == "spine_shoulder"
    assert NTU25.index("left_hand_tip") == 21 and NTU25.index("right_thumb") == 24
    # 1-based (23, 8): left thumb attaches to the left hand
    assert (22, 7) in NTU25.edges
    assert NTU25.origin == 1  # spine-middle, the reference preprocessing's centre
    for a, b in NTU25.mirror_pairs:
        assert NTU25.joint_names[a].replace("left", "right") == NTU25.joint_names[b]


def test_kinetics_mirror_pairs():
    for a, b in KINETICS18.mirror_pairs:
        assert KINETICS18.joint_names[a].replace("right", "left") == KINETICS18.joint_names[b]


@pytest.mark.parametrize("lay", [NTU25, KINETICS18])
def test_adjacency_3subset(lay):
    a = adjacency_3subset(lay)
    v = lay.num_joints
    assert a.shape == (3, v, v) and a.dtype == np.float32
    assert np.array_equal(a[0], np.eye(v))
    for k in (1, 2):
        cols = a[k].sum(0)
        assert np.allclose(cols[cols > 0], 1.0)  # column-normalised
    # inward: edge (child, parent) sets A[parent, child]
    c, p = lay.edges[0]
    assert a[1][p, c] > 0 and a[2][c, p] > 0
    assert np.count_nonzero(a[1]) == np.count_nonzero(a[2]) == len(lay.edges)


@pytest.mark.parametrize("lay", [NTU25, KINETICS18])
def test_spatial_partition(lay):
    a = spatial_partition(lay)
    v = lay.num_joints
    assert a.shape == (3, v, v)
    # the three subsets' columns sum to 1 together (one normalisation, then split)
    assert np.allclose(a.sum(0).sum(0), 1.0)
    assert np.allclose(np.diag(a[0]), a.sum(0).diagonal())
    # original ST-GCN rule for A[j, i] (joint j feeds joint i): subset 1 when j is farther from the centre than i,
    # subset 2 when j is closer; the self-loops form subset 0
    c = lay.center
    child = next(ch for ch, par in lay.edges if par == c)
    assert a[1][child, c] > 0 and a[2][child, c] == 0
    assert a[2][c, child] > 0 and a[1][c, child] == 0
