"""Teaching actions by showing them: a folder of clips (one sub-folder per action) -> a continual model, in seconds.

The pose of every clip is extracted once and cached, the backbone's features of every clip (and of its augmented
copies) once too; what is left is a linear head, learnt in about a second. A ``none`` (or ``nothing``) folder holds
what should not fire; without one, the still moments of the clips and the empty picture are ``none``, and the model
shows an action only at a high score (``NO_NONE_THRESHOLD``). The windows the head learnt from are kept beside the
model (``MODEL.teach.npz``), so ``add`` extends it with another action without the first folder.
"""
from __future__ import annotations

import json
import os
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import AtomicOutput
from ..errors import CognnError, InputFileError
from ..live.reps import FITNESS_SIGNALS
from ..synth.floor import EVENTS
from . import DEFAULT_COPIES
from .build import load_base, save_taught, with_head
from .clips import CLIP_EXTENSIONS, ClipReader, default_cache_dir
from .generated import GENERATED_PER_CLASS, generated_clips, generated_name
from .head import fit_head, prior_from
from .learn import LabelledClip, Windows, collect_windows, skeleton_digest

__all__ = ["TeachResult", "teach_folder", "scan_actions", "NONE_FOLDERS", "sidecar_path", "NO_NONE_THRESHOLD",
           "detect_repetitive", "signal_cycles"]

NONE_FOLDERS = ("none", "nothing")
#: without examples of what should not fire, an action is shown only at this smoothed probability
NO_NONE_THRESHOLD = 0.8

_SIDECAR_FORMAT = "cognn-teach-windows"
_SIDECAR_VERSION = 1
#: the most windows of one class kept in the sidecar
_SIDECAR_PER_CLASS = 4000
#: the most windows of one class the head is fitted on
_FIT_PER_CLASS = 2000
#: generated classes never detected as repetitive: events and a held pose
_ONCE = (*EVENTS, "plank")

Log = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


def sidecar_path(model: str | os.PathLike) -> Path:
    """Where a taught model keeps the windows it learnt from: ``MODEL.teach.npz`` beside it."""
    p = Path(model)
    return p.with_name(p.name.removesuffix(".safetensors") + ".teach.npz")


def scan_actions(root: str | os.PathLike) -> tuple[list[str], list[tuple[Path, str]]]:
    """Action names (sub-folders with clips, sorted; ``none``/``nothing`` as ``none``) and ``(clip, action)``."""
    root = Path(root)
    if not root.is_dir():
        raise InputFileError(root, "is not a folder (expected one sub-folder of clips per action)")
    actions: list[str] = []
    files: list[tuple[Path, str]] = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        clips = sorted(p for p in folder.iterdir()
                       if p.is_file() and p.suffix.lower() in CLIP_EXTENSIONS and not p.name.startswith("."))
        if not clips:
            continue
        name = "none" if folder.name.lower() in NONE_FOLDERS else folder.name
        if name not in actions:
            actions.append(name)
        files.extend((c, name) for c in clips)
    if not files:
        raise InputFileError(root, f"holds no sub-folder with clips ({', '.join(CLIP_EXTENSIONS)}); make one "
                                   "sub-folder per action")
    return actions, files


def _still_frames(skel: np.ndarray, seen: np.ndarray) -> np.ndarray:
    """Frames where the person is seen but hardly moves (relative to the clip's busiest moments): ``none`` for a
    clip of an action that moves."""
    p = skel[:, :2, :, 0].astype(np.float64)
    ok = skel[:, 2, :, 0] > 0
    d = np.abs(np.diff(p, axis=0, prepend=p[:1])).sum(1)  # (T, V)
    d[~ok] = np.nan
    with warnings.catch_warnings():  # frames where nobody is seen: all-NaN rows, 0 after nan_to_num
        warnings.simplefilter("ignore", RuntimeWarning)
        e = np.nan_to_num(np.nanmedian(np.where(ok, d, np.nan), axis=1))
    k = 45
    e = np.convolve(np.pad(e, (k // 2, k - 1 - k // 2), mode="edge"), np.ones(k) / k, mode="valid")
    busy = np.percentile(e[seen], 80) if seen.any() else 0.0
    return seen & (e < 0.2 * busy)


def _long_enough(skel: np.ndarray, frames: int) -> np.ndarray:
    """A take shorter than the model's receptive field played again after itself until it is ``frames`` long: the
    model answers only once it has seen that much, and a short take of a repeated movement is that movement again."""
    if len(skel) >= frames:
        return skel
    return np.concatenate([skel] * -(-frames // len(skel)))[:frames]


def _frame_labels(skel: np.ndarray, label: int, none: int, still_is_none: bool) -> np.ndarray:
    seen = (skel[:, 2, :, 0] > 0).sum(1) >= 5 if skel.shape[1] > 2 else np.any(skel[..., 0] != 0, axis=(1, 2))
    lab = np.full(len(skel), label, np.int64)
    lab[~seen] = none
    if still_is_none and label != none and skel.shape[1] > 2:
        still = _still_frames(skel, seen)
        if still.mean() < 0.5:  # a held pose (a plank) is all still: keep it
            lab[still] = none
    return lab


@dataclass
class TeachResult:
    """What :func:`teach_folder` made and measured."""

    path: Path
    classes: list[str]
    clips: dict[str, int]
    windows: int
    seconds: float
    had_none: bool
    repetitive: dict[str, str] = field(default_factory=dict)
    thresholds: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def signal_cycles(skel: np.ndarray, layout: str) -> dict[str, int]:
    """``{signal: repetitions}`` the rep counter's signals complete over one clip ``(T, C, V, M)`` (first slot)."""
    from ..domains import LAYOUT_DOMAIN
    from ..live.reps import SIGNALS, body_signals, count_cycles

    domain = LAYOUT_DOMAIN[layout]
    per: dict[str, list[float]] = {n: [] for n in SIGNALS}
    torsos = []
    for frame in skel:
        s, torso = body_signals(frame[..., 0], layout, domain)
        for n in SIGNALS:
            per[n].append(float(s[n][0]))
        torsos.append(torso)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        t = float(np.nanmedian(np.asarray(torsos, np.float64)))
    out = {}
    for n, sig in SIGNALS.items():
        if not np.isfinite(t) or t <= 0:
            out[n] = 0
            continue
        v = np.asarray(per[n], np.float64) / t if sig.scaled else np.asarray(per[n], np.float64)
        out[n] = len(count_cycles(v, min_range=sig.min_range))
    return out


def detect_repetitive(cycles: Sequence[dict[str, int]]) -> str | None:
    """The rep-counter signal that repeats in most clips (at least two cycles in half of them; ``cycles`` from
    :func:`signal_cycles`, one per clip), or None."""
    best, best_score = None, 0.0
    for name in (cycles[0] if cycles else {}):
        counts = [c.get(name, 0) for c in cycles]
        score = float(np.median(counts))
        if score >= 2 and np.mean([c >= 2 for c in counts]) >= 0.5 and score > best_score:
            best, best_score = name, score
    return best


def _load_sidecar(model: Path) -> tuple[list[str], Windows]:
    side = sidecar_path(model)
    if not side.is_file():
        raise InputFileError(model, f"has no teaching record ({side.name} beside it); --add extends models made by "
                                    "cognn-teach: teach it again from its folder")
    try:
        with np.load(side, allow_pickle=False) as z:
            head = json.loads(str(z["header"]))
            feats = np.asarray(z["features"], np.float32)
            labels = np.asarray(z["labels"], np.int64)
    except (OSError, ValueError, KeyError) as e:
        raise InputFileError(side, f"is not a readable teaching record ({e})") from None
    if head.get("format") != _SIDECAR_FORMAT or not isinstance(head.get("classes"), list):
        raise InputFileError(side, "is not a cognn teaching record")
    classes = [str(c) for c in head["classes"]]
    if feats.ndim != 2 or len(feats) != len(labels) or (len(labels) and not 0 <= labels.min() <= labels.max()
                                                         < len(classes)) or not np.isfinite(feats).all():
        raise InputFileError(side, "holds windows that do not match its classes")
    n = len(labels)
    return classes, Windows(feats, labels, np.full(n, -1), np.zeros(n, bool), np.ones(n, np.float32), [])


def _save_sidecar(path: Path, classes: list[str], win: Windows, seed: int = 0) -> None:
    sel = _balanced(win, len(classes), _SIDECAR_PER_CLASS, seed)
    header = json.dumps({"format": _SIDECAR_FORMAT, "version": _SIDECAR_VERSION, "classes": classes})
    with AtomicOutput(path, what="teaching record") as out:
        with open(out.temp, "wb") as f:
            np.savez(f, header=np.asarray(header), features=win.features[sel].astype(np.float16),
                     labels=win.labels[sel].astype(np.int16))


def teach_folder(root: str | os.PathLike, out: str | os.PathLike, *, base: str | os.PathLike,
                 add: str | os.PathLike | None = None, copies: int = DEFAULT_COPIES, cache: Path | None = None,
                 reps: dict[str, str] | None = None, seed: int = 0, generated: int = GENERATED_PER_CLASS,
                 log: Log = _quiet,
                 progress: Callable[[int, int, str], None] | None = None) -> TeachResult:
    """Learn a model from the clips under ``root`` (see the module docstring) on ``base``'s backbone and write it to
    ``out`` (with its teaching record beside it). ``add``: a model made by this function whose classes are kept and
    extended by the folder's. ``reps``: ``{class: signal}`` declared repetitive (else detected). ``generated``:
    clips of generated motion per action that :mod:`cognn.synth` draws by the same name (0: the takes alone)."""
    t0 = time.perf_counter()
    root, out = Path(root), Path(out)
    actions, files = scan_actions(root)
    base_model, base_ck = load_base(base)
    layout = base_model.layout.name
    convention = str(base_ck.meta.get("preprocessing") or "none")
    old_classes: list[str] = []
    old: Windows | None = None
    if add is not None:
        old_classes, old = _load_sidecar(Path(add))
        add_ck = load_base(add)[1]
        if add_ck.meta.get("model") != base_ck.meta.get("model") or add_ck.meta.get("layout") != layout:
            raise InputFileError(Path(add), f"was taught on {add_ck.meta.get('model')} / {add_ck.meta.get('layout')}"
                                            f"; the base is {base_ck.meta.get('model')} / {layout}")
    if old_classes and old_classes[0] != "none":
        raise InputFileError(Path(str(add)), "has a teaching record whose first class is not 'none'")
    classes = list(old_classes)
    if "none" not in classes:
        classes.insert(0, "none")
    for a in actions:
        if a not in classes:
            classes.append(a)
    had_none = "none" in actions or (old is not None and bool((old.labels == 0).any()) and "none" in old_classes
                                     and _had_none_examples(Path(add) if add else None))
    notes = []
    if "none" not in actions and add is None:
        notes.append(f"no 'none' folder: the still moments of the clips and the empty picture are 'none', and an "
                     f"action is shown only at a score of {NO_NONE_THRESHOLD:.1f}; record what should not fire in "
                     f"{root / 'none'} for fewer false alarms")
    if len([c for c in classes if c != "none"]) < 1:
        raise CognnError(f"{root}: nothing to learn: only a 'none' folder")
    if cache is None:
        cache = root / ".cognn-cache"
        try:
            cache.mkdir(exist_ok=True)
            probe = cache / f".probe-{os.getpid()}"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError:
            cache = default_cache_dir() / "teach"
    none = classes.index("none")
    labelled: list[LabelledClip] = []
    per_action: dict[str, list[dict[str, int]]] = {}
    with ClipReader(layout, cache / "pose", num_persons=base_model.num_persons, log=log) as reader:
        for i, (path, action) in enumerate(files):
            if progress is not None:
                progress(i, len(files), f"pose {path.name}")
            skel = reader.read(path)
            if not np.any(skel):
                log(f"warning: {path}: nobody is seen in it; left out")
                continue
            cycles_of = skel
            skel = _long_enough(skel, base_model.receptive_field + 16 * base_model.stride)
            lab = _frame_labels(skel, classes.index(action), none, still_is_none=True)
            labelled.append(LabelledClip(f"{action}/{path.name}", skel, lab))
            per_action.setdefault(action, []).append(_cached_cycles(cycles_of, layout, cache / "features"))
    missing = [a for a in actions if a not in per_action]
    if missing:
        raise CognnError(f"{root}: no usable clip for {', '.join(missing)} (nobody seen in them)")
    win = collect_windows(base_model, labelled, copies=copies, convention=convention, seed=seed,
                          cache=cache / "features",
                          progress=(lambda i, n, name: progress(i, n, f"features {name}") if name else None)
                          if progress else None)
    if old is not None:
        win = old.join(win)
    # the user's takes (and the old record) set the thresholds; generated motion only helps the fit
    takes = win
    gen = generated_clips([a for a in actions if a in per_action], classes, layout, per_class=generated, seed=seed)
    if gen:  # one line, not one per clip: after the first run their features come from the cache at once
        log(", ".join(a for a in actions if a in per_action and generated_name(a))
            + f": {generated} generated clips each (cognn.synth, same names) beside the takes")
        win = win.join(collect_windows(base_model, gen, copies=0, convention=convention, cache=cache / "features"))
    fit = _balanced(win, len(classes), _FIT_PER_CLASS, seed)
    # a class the base model knows by name (a squat taught on `fitness`) starts from the base's own row
    known = prior_from(base_model.fc.weight.detach().numpy(), base_model.fc.bias.detach().numpy(),
                       [str(c) for c in base_ck.meta.get("classes") or []], classes)
    head = fit_head(win.features[fit], win.labels[fit], len(classes), l2=3e-3, max_iter=100,
                    prior=known[0] if known else None, prior_rows=known[1] if known else None)
    if known:
        log(", ".join(c for c, r in zip(classes, known[1]) if r)
            + f": start from what {Path(base).name} knows of them (same names)")
    # live defaults from the enrolment
    probs = head.probabilities(takes.features)
    thresholds: dict[str, float] = {}
    lowest = 0.3 if had_none else NO_NONE_THRESHOLD
    for k, c in enumerate(classes):
        if c == "none":
            continue
        own = probs[(takes.labels == k) & (takes.original | (takes.clip < 0)), k]
        typical = float(np.median(own)) if len(own) else lowest
        thresholds[c] = round(float(np.clip(0.6 * typical, lowest, 0.9)), 2)
    repetitive = dict(reps or {})
    for action, cyc in per_action.items():
        drawn = generated_name(action)
        if action == "none" or action in repetitive or drawn in _ONCE:
            continue  # a fall, sitting down, standing up happen once; a plank is held
        sig = FITNESS_SIGNALS.get(drawn or "") or detect_repetitive(cyc)  # a fitness exercise: its own signal
        if sig is not None:
            repetitive[action] = sig
    model = with_head(base_model, head)
    live = {"alarms": {"thresholds": thresholds, "default_threshold": 0.3, "default_confirm": 0.3,
                       "release": 0.1, "repetitive": repetitive, **_alarm_roles(classes, repetitive)}}
    counts = {a: sum(1 for _, b in files if b == a) for a in actions}
    meta: dict[str, Any] = {
        "classes": classes,
        "data": f"taught by cognn-teach from {len(labelled)} clips in {root.name}/ "
                + ", ".join(f"{a} ({n})" for a, n in counts.items())
                + (f", added to {Path(add).name}" if add else ""),
        "metrics": {"windows": int(len(win.labels)), "copies": copies, "generated_per_class": generated if gen else 0},
        "description": f"taught actions on the backbone of {Path(base).name} ({base_ck.meta.get('model')}): "
                       + ", ".join(c for c in classes if c != "none"),
        "licence": str(base_ck.meta.get("licence", "")),
        "live": live,
        "teach": {"base": Path(base).name, "had_none": had_none, "folder": root.name},
    }
    path = save_taught(out, model, base_ck, meta)
    _save_sidecar(sidecar_path(path), classes, win, seed)
    return TeachResult(path, classes, counts, int(len(win.labels)), time.perf_counter() - t0, had_none,
                       repetitive, thresholds, notes)


def _alarm_roles(classes: Sequence[str], repetitive: dict[str, str]) -> dict[str, Any]:
    """Alarm-policy roles of taught classes named like the bundled model's: a fall is an alarm (reported the moment it
    is confirmed, only when the trunk went down, and raised by the body alone unless a taught floor exercise is
    named: :mod:`cognn.live.falls`); a plank is held (its seconds shown) unless declared repetitive."""
    from ..live.falls import FALL_CONFIRM_S, FLOOR_EXERCISES

    names = {c: generated_name(c) for c in classes if c != "none"}
    out: dict[str, Any] = {}
    falls = [c for c, g in names.items() if g == "fall"]
    if falls:
        floor = [c for c, g in names.items() if g in FLOOR_EXERCISES]
        out.update(alarm=falls, confirm={c: FALL_CONFIRM_S for c in falls}, by_body={c: floor for c in falls})
    held = [c for c, g in names.items() if g == "plank" and c not in repetitive]
    if held:
        out["hold"] = held
    return out


def _balanced(win: Windows, classes: int, per_class: int, seed: int) -> np.ndarray:
    """Indices of at most ``per_class`` windows of each class (augmented copies are alike: more adds little)."""
    rng = np.random.default_rng(seed)
    keep = []
    for k in range(classes):
        idx = np.flatnonzero(win.labels == k)
        keep.append(np.sort(rng.choice(idx, per_class, replace=False)) if len(idx) > per_class else idx)
    return np.concatenate(keep) if keep else np.zeros(0, np.int64)


def _cached_cycles(skel: np.ndarray, layout: str, cache: Path) -> dict[str, int]:
    """:func:`signal_cycles` of a clip, kept beside its features (by the clip's content)."""
    path = cache / f"cycles-{layout}-{skeleton_digest(skel)}.json"
    try:
        data = json.loads(path.read_text())
        if isinstance(data, dict) and all(isinstance(v, int) for v in data.values()):
            return data
    except (OSError, ValueError):
        pass
    out = signal_cycles(skel, layout)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with AtomicOutput(path, what="cycle cache") as res:
            Path(res.temp).write_text(json.dumps(out), encoding="utf-8")
    except (OSError, CognnError):  # a cache that cannot be written only costs the next run this count again
        pass
    return out


def _had_none_examples(model: Path | None) -> bool:
    if model is None:
        return False
    from ..checkpoints import read_checkpoint

    teach = read_checkpoint(model).meta.get("teach")
    return bool(isinstance(teach, dict) and teach.get("had_none"))
