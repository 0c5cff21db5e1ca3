"""Generated gesture clips and datasets: a body, a motion, a camera and pose-estimation artefacts.

``generate_clip(label, rng, frames)`` returns one raw clip ``(3, T, 25, M=2)`` in NTU camera metres (y up, z away from
the sensor); ``generate_dataset(path, n_per_class, frames, seed)`` writes a ``cognn-dataset`` HDF5 file after the
reference NTU ``pre_normalization``, the same preprocessing the live pipeline applies frame by frame.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..data.store import DatasetWriter
from ..data.transforms import PREPROCESSING_NAME, PREPROCESSING_VERSION, pre_normalization
from .body import J, forward_kinematics, rotation, sample_shape
from .motions import CLASSES, MOTIONS, idle
from .noise import dropouts, glitches, hide_legs, jitter, scale_and_depth

__all__ = ["CLASSES", "GENERATOR_VERSION", "generate_clip", "generate_person", "generate_dataset"]

#: bumped whenever the generated motion changes, recorded in dataset files
GENERATOR_VERSION = 4
NUM_PERSONS = 2


def _camera(joints: np.ndarray, rng: np.random.Generator, offset: np.ndarray | None = None) -> np.ndarray:
    """Body-world joints ``(T, 25, 3)`` (floor at y = 0) -> camera metres: 1.5-4 m away, camera 0.7-1.6 m high and
    tilted by up to ±12°."""
    pos = np.array([rng.uniform(-0.5, 0.5), -rng.uniform(0.7, 1.6), rng.uniform(1.5, 4.0)])
    if offset is not None:
        pos = pos + offset
    tilt = rotation(0.0, rng.uniform(-12, 12) * np.pi / 180)[0]
    return np.einsum("ij,tvj->tvi", tilt, joints + pos)


def generate_person(label: str, rng: np.random.Generator, frames: int, fps: float = 30.0,
                    reference_frame: bool = False) -> np.ndarray:
    """One person doing ``label``: clean body-world joints ``(T, 25, 3)`` (``T + 1`` with a leading neutral frame).

    The neutral frame is the same body standing idle, facing about the same way as at the clip's start (±10°).
    """
    if label not in MOTIONS:
        raise ValueError(f"unknown gesture class {label!r}; known: {', '.join(CLASSES)}")
    shape = sample_shape(rng)
    joints = forward_kinematics(shape, MOTIONS[label](rng, frames, fps, shape))
    if reference_frame:
        pose = idle(rng, 1, fps, shape, arm_style="hang")
        ref = forward_kinematics(shape, pose)
        # face the neutral frame like the clip's first frame, give or take 10 degrees
        start = joints[0, J["right_shoulder"]] - joints[0, J["left_shoulder"]]
        now = ref[0, J["right_shoulder"]] - ref[0, J["left_shoulder"]]
        turn = np.arctan2(-start[2], start[0]) - np.arctan2(-now[2], now[0]) + rng.normal(0, 10) * np.pi / 180
        base = ref[0, J["spine_base"]]
        ref = base + np.einsum("ij,tvj->tvi", rotation(turn)[0], ref - base)
        ref += (joints[0, J["spine_base"]] - base) * [1, 0, 1]
        joints = np.concatenate([ref, joints])
    return joints


def _artefacts(joints: np.ndarray, rng: np.random.Generator, keep_first: int) -> np.ndarray:
    joints = jitter(scale_and_depth(joints, rng), rng, rng.uniform(0.5, 3.0))
    r = rng.random()
    if r < 0.22:
        joints = hide_legs(joints, rng, "guess")
    elif r < 0.25:
        joints = hide_legs(joints, rng, "zero")
    if rng.random() < 0.3:
        joints = glitches(joints, rng, rng.uniform(0.003, 0.02))
    if rng.random() < 0.2:
        joints = dropouts(joints, rng, int(rng.integers(1, 3)), keep_first=keep_first)
    return joints


def generate_clip(label: str, rng: np.random.Generator, frames: int, fps: float = 30.0, *,
                  two_person: float = 0.15, reference_frame: bool = False) -> np.ndarray:
    """One raw clip ``(3, T, 25, 2)`` float32 of ``label`` in NTU camera metres, with pose-estimation artefacts.

    With probability ``two_person`` a second, idle person stands 0.6-1.5 m to one side, in a random slot (the
    gesturing person may be in slot 1). ``reference_frame`` prepends a neutral frame of the same person
    (``T = frames + 1``), for normalising as a live stream that started before the gesture does.
    """
    if frames < 1:
        raise ValueError(f"frames must be positive, got {frames}")
    lead = 1 if reference_frame else 0
    persons = [generate_person(label, rng, frames, fps, reference_frame)]
    if rng.random() < two_person:
        persons.append(generate_person("none", rng, frames, fps, reference_frame))
    out = np.zeros((3, frames + lead, 25, NUM_PERSONS), np.float32)
    side = rng.choice([-1.0, 1.0])
    camera_seed = seed_of(rng)  # one camera for everybody in the scene
    for i, joints in enumerate(persons):
        offset = np.array([side * rng.uniform(0.6, 1.5), 0.0, rng.uniform(-0.5, 0.8)]) if i else None
        cam = _camera(joints, np.random.default_rng(camera_seed), offset)
        out[..., i] = _artefacts(cam, rng, keep_first=lead + 1).transpose(2, 0, 1)
    if len(persons) == 2 and rng.random() < 0.5:
        out = out[..., ::-1].copy()
    return out


def seed_of(rng: np.random.Generator) -> int:
    """A seed drawn from ``rng`` (to derive a sub-generator deterministically)."""
    return int(rng.integers(2 ** 32))


def generate_dataset(out_h5: str | Path, n_per_class: int, frames: int, seed: int, *, fps: float = 30.0,
                     classes: Sequence[str] = CLASSES, reference_share: float = 0.5, two_person: float = 0.15,
                     split: str = "", repeat: dict[str, int] | None = None) -> Path:
    """Write ``n_per_class`` clips of every class to a ``cognn-dataset`` file after ``pre_normalization``.

    ``repeat`` gives some classes several times as many clips (``{"none": 3}``: "none" covers everything that is not
    a gesture, so it needs more examples than any one gesture).

    A share ``reference_share`` of the clips is normalised from a neutral frame before the clip (as a live stream
    that started before the gesture), the rest from their own first frame (a stream that starts mid-gesture).
    Samples are interleaved by class; the same arguments give the same file contents.
    """
    classes = list(classes)
    unknown = [c for c in classes if c not in MOTIONS]
    if unknown:
        raise ValueError(f"unknown gesture classes {unknown}; known: {', '.join(CLASSES)}")
    if n_per_class < 1 or frames < 1:
        raise ValueError("n_per_class and frames must be positive")
    repeat = dict(repeat or {})
    if any(k not in classes or int(v) < 1 for k, v in repeat.items()):
        raise ValueError(f"repeat must map classes of this dataset to counts of at least 1, got {repeat}")
    rng = np.random.default_rng(seed)
    attrs = {"generator": "cognn.synth", "generator_version": GENERATOR_VERSION, "seed": int(seed),
             "fps": float(fps), "two_person": float(two_person),
             "reference_share": float(reference_share), "note": "generated motion, not recorded people",
             "repeat": ",".join(f"{k}:{int(v)}" for k, v in sorted(repeat.items()))}
    with DatasetWriter(out_h5, "ntu25", classes, dataset="cognn-synth-gestures", split=split,
                       preprocessing=PREPROCESSING_NAME, preprocessing_version=PREPROCESSING_VERSION,
                       num_frames=frames, num_persons=NUM_PERSONS, extra_attrs=attrs) as writer:
        for i in range(n_per_class):
            for label, name in enumerate(classes):
                for r in range(int(repeat.get(name, 1))):
                    ref = bool(rng.random() < reference_share)
                    clip = generate_clip(name, rng, frames, fps, two_person=two_person, reference_frame=ref)
                    clip = pre_normalization(clip)[:, 1:] if ref else pre_normalization(clip)
                    writer.append(clip, label, f"{name}_{i:05d}" + (f"_{r}" if r else ""))
    return Path(out_h5)
