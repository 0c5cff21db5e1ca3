"""The real clips the bundled ``fitness`` model learns from and is measured on, with a label for every frame.

    from fitness_data import real_clips, CLASSES
    clips = real_clips()          # LabelledClip per clip of ../shared/data/video/real (+ the extra clips below)

Clips come from ``../shared/data/video/real/clips.tsv`` (action, repetitions by eye, person, licence; the clips
themselves are third-party and never enter the repository) plus a few other shared clips: two jumping-jack clips
(``fanchiang_*``) and, as ``none``, the NTU RGB+D videos. Held out of all training, for the false-alarm measurement:
the office, tai chi, archery and arm-wrestling clips (:data:`FALSE_ALARM_CLIPS`). The weightlifting demo
(``clean_and_jerk.mp4``) is not used: its front squat under the bar taught ``none`` for a squat with a weight, and a
goblet squat of a person left out was then shown as ``none`` (leave-one-person-out, docs/fitness.md).

A clip's frames are labelled by rules on its own skeleton, since only the clip's action is known:

* frames without a person are ``none``;
* a repetitive exercise is its class where the body moves (the joints' speed over 1.5 s, against the clip's own
  busiest moments), ``none`` where the person stands still (title cards, setting up, resting), and left out (-1) for
  a second either side of each change, which the model cannot place exactly;
* a plank is its class wherever the person is seen;
* a fall, sitting down, standing up: the moment is found where the hip centre drops (rises) fastest; answers in the
  2.5 s after it are the class, earlier ones ``none``; later ones are left out (the fall still fills the pool);
* standing still is ``none``, walking ``walk``, waving ``wave``, overhead claps ``clap``.
"""
from __future__ import annotations

import csv
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from cognn.teach.clips import ClipReader  # noqa: E402
from cognn.teach.learn import LabelledClip  # noqa: E402

SHARED = REPO.parent / "shared" / "data"
REAL = SHARED / "video" / "real"
CACHE = REPO / ".cache" / "teach"

CLASSES = ["none", "squat", "push_up", "lunge", "sit_up", "jumping_jack", "high_knees", "burpee", "bicep_curl",
           "lateral_raise", "front_raise", "plank", "fall", "sit_down", "stand_up", "wave", "clap", "walk"]
#: folder of clips.tsv -> class
FOLDER_CLASS = {"squat": "squat", "push_up": "push_up", "lunge": "lunge", "sit_up": "sit_up",
                "jumping_jack": "jumping_jack", "high_knees": "high_knees", "burpee": "burpee",
                "bicep_curl": "bicep_curl", "lateral_raise": "lateral_raise", "front_raise": "front_raise",
                "plank": "plank", "fall": "fall", "sit_down_stand_up": "sit_down", "get_up_from_lying": "stand_up",
                "wave": "wave", "clap_overhead": "clap", "stand_idle": "none", "walk": "walk"}
REPETITIVE = ("squat", "push_up", "lunge", "sit_up", "jumping_jack", "high_knees", "burpee", "bicep_curl",
              "lateral_raise", "front_raise", "clap", "wave")
EVENTS = ("fall", "sit_down", "stand_up")
_FITNESS_BLENDER = "no LICENSE file (appears to be Fitness Blender footage)"
#: other shared clips used for training: file (under data/video) -> (class, person, source, licence)
EXTRA = {"fanchiang_2-1.mp4": ("jumping_jack", "fanchiang_man", "Fanchiang0418/Skeleton-Based-Action-Recognition "
                                "data/2-1.mp4 @ 244561e9d922", _FITNESS_BLENDER),
         "fanchiang_3-2.mp4": ("jumping_jack", "fanchiang_woman", "Fanchiang0418/Skeleton-Based-Action-Recognition "
                               "data/3-2.mp4 @ 244561e9d922", _FITNESS_BLENDER),
         "S001C001P001R001A001_rgb.avi": ("none", "ntu_P001", "open-mmlab/mmaction2 "
                                          "tools/data/skeleton/S001C001P001R001A001_rgb.avi @ 4d6c93474730",
                                          "Apache-2.0 repository; NTU RGB+D data (ROSE Lab release agreement)"),
         **{name: ("none", "ntu_P003", f"hluong89/st_gcn_preprocessing_NTU_RGB_images data_testing/{name} @ "
                   "6664f6a40689", "no LICENSE file; NTU RGB+D data (ROSE Lab release agreement)")
            for name in ("S004C002P003R001A055_rgb.avi", "S004C002P003R002A046_rgb.avi",
                         "S004C002P003R002A047_rgb.avi")},
         "pyskl_ntu_sample.avi": ("none", "ntu_pyskl", "kennymckormick/pyskl demo/ntu_sample.avi @ 3f6795f25739",
                                  "Apache-2.0 repository; NTU RGB+D data (ROSE Lab release agreement)")}
#: shared clips that show none of the classes, never trained on: the false-alarm measurement
FALSE_ALARM_CLIPS = ("selinkesler_Office.mp4", "ta_chi.mp4", "paddlevideo_example.avi", "mmaction2_demo.mp4")
FPS = 30.0


@dataclass
class ClipInfo:
    """One row of clips.tsv (or an extra clip)."""

    path: Path
    action: str  # the folder / clips.tsv action
    cls: str  # the fitness class
    person: str
    reps: str
    licence: str
    source: str


def clip_table() -> list[ClipInfo]:
    """The real clips (clips.tsv order) and the extra training clips."""
    out = []
    with open(REAL / "clips.tsv", newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            out.append(ClipInfo(REAL / row["clip"], row["action"], FOLDER_CLASS[row["action"]], row["person"],
                                row["reps"], row["licence"], f"{row['repo']} {row['path']} @ {row['commit'][:12]}"))
    for name, (cls, person, source, licence) in EXTRA.items():
        out.append(ClipInfo(SHARED / "video" / name, cls, cls, person, "", licence, source))
    return out


def _smooth(x: np.ndarray, frames: int) -> np.ndarray:
    k = np.ones(max(1, frames)) / max(1, frames)
    return np.convolve(np.pad(x, (frames // 2, frames - 1 - frames // 2), mode="edge"), k, mode="valid")


def _person(skel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Slot 0's points ``(T, 18, 2)`` with NaN where unseen, and whether anybody is seen ``(T,)``."""
    p = skel[:, :2, :, 0].transpose(0, 2, 1).astype(np.float64)
    seen = skel[:, 2, :, 0] > 0
    p[~seen] = np.nan
    return p, seen.sum(1) >= 5


def _torso(p: np.ndarray) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        hip = np.nanmean(p[:, [8, 11]], axis=1)
        d = np.linalg.norm(p[:, 1] - hip, axis=1)
    v = np.nanmedian(d) if np.isfinite(d).any() else 0.1
    return float(v) if np.isfinite(v) and v > 0 else 0.1


def motion_energy(skel: np.ndarray) -> np.ndarray:
    """Joint speed per frame (torso lengths a second), smoothed over 1.5 s; 0 where nobody is seen."""
    p, present = _person(skel)
    torso = _torso(p)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        v = np.linalg.norm(np.diff(p, axis=0, prepend=p[:1]), axis=2)  # (T, 18)
        e = np.nanmedian(v, axis=1) * FPS / torso
    e = np.where(np.isfinite(e) & present, e, 0.0)
    return _smooth(e, int(1.5 * FPS))


def hip_height(skel: np.ndarray) -> np.ndarray:
    """Height of the hip centre in torso lengths (up positive), smoothed over 0.3 s; NaN where unseen."""
    p, present = _person(skel)
    torso = _torso(p)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        hip = np.nanmean(p[:, [8, 11], 1], axis=1)
    h = -hip / torso
    good = np.isfinite(h) & present
    if good.sum() < 2:
        return np.full(len(h), np.nan)
    h = np.interp(np.arange(len(h)), np.flatnonzero(good), h[good])
    return _smooth(h, int(0.3 * FPS))


def event_frames(skel: np.ndarray, cls: str) -> list[int]:
    """Where the hip drops fastest (a fall, sitting down) or rises fastest (standing up); one moment per clip, two
    for the sit/stand clip (both directions)."""
    h = hip_height(skel)
    if not np.isfinite(h).any():
        return []
    v = np.gradient(h) * FPS  # torso lengths a second
    if cls == "stand_up":
        return [int(np.argmax(v))]
    return [int(np.argmin(v))]


def frame_labels(info: ClipInfo, skel: np.ndarray) -> np.ndarray:
    """A class index per frame (-1: left out), by the rules of the module docstring."""
    t = len(skel)
    ix = CLASSES.index
    _, present = _person(skel)
    lab = np.full(t, ix("none"), np.int64)
    if info.cls in ("none",):
        return lab
    if info.cls == "plank":
        lab[present] = ix("plank")
        return lab
    if info.cls in ("walk", "wave", "clap") or info.cls in REPETITIVE:
        e = motion_energy(skel)
        busy = np.percentile(e[present], 80) if present.any() else 0.0
        active = present & (e > 0.35 * busy)
        lab[active] = ix(info.cls)
        edges = np.flatnonzero(np.diff(active.astype(np.int8)) != 0)
        for edge in edges:
            lab[max(0, edge - int(FPS)):edge + int(FPS)] = -1
        return lab
    if info.action == "sit_down_stand_up":
        h = hip_height(skel)
        v = np.gradient(h) * FPS
        lab[:] = -1
        lab[present & (np.abs(v) < 0.15)] = ix("none")
        lab[v < -0.5] = ix("sit_down")
        lab[v > 0.5] = ix("stand_up")
        return _spread_events(lab, ix)
    events = event_frames(skel, info.cls)
    for f in events:
        lab[f - int(0.3 * FPS):] = -1
        lab[f + int(0.2 * FPS):f + int(2.5 * FPS)] = ix(info.cls)
    return lab


def _spread_events(lab: np.ndarray, ix) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Event frames (sit down / stand up) keep their class for 2.5 s after them, as a fall does."""
    out = lab.copy()
    for cls in ("sit_down", "stand_up"):
        hits = np.flatnonzero(lab == ix(cls))
        for f in hits:
            out[f:f + int(2.5 * FPS)] = np.where(out[f:f + int(2.5 * FPS)] == ix("none"), -1,
                                                 out[f:f + int(2.5 * FPS)])
            out[f] = ix(cls)
    return out


def read_clips(infos: list[ClipInfo] | None = None, cache: Path = CACHE,  # type: ignore[no-untyped-def]
               log=print) -> list[tuple[ClipInfo, np.ndarray]]:
    """``(info, skeleton (T, 3, 18, 2))`` of every clip (pose cached)."""
    infos = clip_table() if infos is None else infos
    out = []
    with ClipReader("kinetics18", cache / "pose", log=log) as reader:
        for info in infos:
            out.append((info, reader.read(info.path)))
    return out


def real_clips(cache: Path = CACHE, log=print) -> list[LabelledClip]:  # type: ignore[no-untyped-def]
    """Every training clip with its frame labels."""
    return [LabelledClip(f"{info.action}/{info.path.name}", skel, frame_labels(info, skel), info.person)
            for info, skel in read_clips(cache=cache, log=log)]
