"""Pose from pixels: a small wrapper over MediaPipe's Tasks-API ``PoseLandmarker``.

The default model is ``weights/pose_landmarker_full.task`` in the repository (built by ``tools/build_pose_task.py``);
``COGNN_POSE_MODEL`` or ``model_path`` can name any pose landmarker ``.task`` file (Google's lite/full/heavy files
work too).  Frames are BGR ``uint8`` as OpenCV gives them; feed the camera's own frame, never a mirrored preview
(mirroring swaps left and right).
"""
from __future__ import annotations

import atexit
import contextlib
import os
import threading
import weakref
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputFileError
from .quiet import stderr_silenced

__all__ = ["VARIANTS", "PersonPose", "PoseEstimator", "default_model_path", "resolve_model_path", "load_image",
           "MODEL_ENV_VAR"]

MODEL_ENV_VAR = "COGNN_POSE_MODEL"
_REQUIRED_ENTRIES = ("pose_detector.tflite", "pose_landmarks_detector.tflite")
#: frames smaller than this on either side are not worth running (the detector input is 224x224)
_MIN_SIDE = 8

# Native logging knobs (they quiet older builds; mediapipe 1.2.x still needs the fd-2 redirect below).
os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


_IMPORT_LOCK = threading.Lock()


def mediapipe_vision() -> Any:
    """MediaPipe's vision tasks module (``mediapipe.tasks.python.vision``), imported without its audio half.

    Importing any part of ``mediapipe`` runs ``mediapipe.tasks.python``'s ``__init__``, which imports the audio
    tasks and so ``sounddevice``, whose search for the PortAudio library (``ctypes.util.find_library``) runs the C
    compiler (``gcc -lportaudio``) three times, some 0.3 s and three processes at every start. cognn never records
    audio: ``sounddevice`` is made unimportable for the duration of the import (MediaPipe's audio module expects it
    may be missing), and importable again afterwards.
    """
    import sys

    with _IMPORT_LOCK:
        blocked = "sounddevice" not in sys.modules
        if blocked:
            sys.modules["sounddevice"] = None  # type: ignore[assignment]  # "import sounddevice" raises ImportError
        try:
            from mediapipe.tasks.python import vision
        finally:
            if blocked and sys.modules.get("sounddevice", 0) is None:
                del sys.modules["sounddevice"]
    return vision


@dataclass(frozen=True)
class PersonPose:
    """One detected person: 33 MediaPipe landmarks in three coordinate systems plus visibility."""

    #: (33, 2) float32 pixel coordinates in the frame that was processed
    image_px: np.ndarray
    #: (33, 3) float32 normalised x, y in [0, 1] (may fall outside) and MediaPipe's relative depth z
    image_norm: np.ndarray
    #: (33, 3) float32 metres, origin at the hip midpoint, x right, y down, z away from the camera
    world: np.ndarray
    #: (33,) float32 visibility in [0, 1]
    visibility: np.ndarray

    @property
    def score(self) -> float:
        """Mean visibility of the 33 landmarks."""
        return float(self.visibility.sum()) / len(self.visibility)

    def centre(self) -> np.ndarray:
        """Torso centre (mean of shoulders and hips) in normalised image coordinates, shape (2,)."""
        n = self.image_norm
        return (n[11, :2] + n[12, :2] + n[23, :2] + n[24, :2]) * np.float32(0.25)


def default_model_path() -> Path:
    """The bundled ``weights/pose_landmarker_full.task`` (the checkout's, or the installed package's copy)."""
    from ..resources import weights_dir

    return weights_dir() / "pose_landmarker_full.task"


#: MediaPipe's pose landmarker variants (``pose_landmarker_<variant>.task``): faster and rougher to slower and finer
VARIANTS = ("lite", "full", "heavy")


def resolve_model_path(model_path: str | os.PathLike | None = None) -> Path:
    """The model to load: ``model_path`` (a ``.task`` file, or a variant name ``lite``, ``full`` or ``heavy`` looked
    up as ``weights/pose_landmarker_<variant>.task``), else ``$COGNN_POSE_MODEL``, else :func:`default_model_path`.

    Raises :class:`InputFileError` if the file is missing or is not a pose landmarker ``.task`` bundle.
    """
    if model_path is None:
        model_path = os.environ.get(MODEL_ENV_VAR) or default_model_path()
    if str(model_path) in VARIANTS:
        path = default_model_path().with_name(f"pose_landmarker_{model_path}.task")
        if not path.is_file():
            raise InputFileError(path, f"the {model_path} pose model is not bundled (only full is: the Apache-2.0 "
                                       "MediaPipe wheels carry only that landmark model); download Google's "
                                       f"pose_landmarker_{model_path}.task into weights/ or pass its path")
    path = Path(model_path).expanduser() if str(model_path) not in VARIANTS else path
    if not path.is_file():
        hint = (" (this cognn installation lacks its bundled pose model; reinstall cognn, or in a checkout build it "
                "with: python tools/build_pose_task.py)") if path == default_model_path() else ""
        raise InputFileError(path, f"pose model file not found{hint}; set {MODEL_ENV_VAR} or pass model_path")
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputFileError(path, f"not a MediaPipe .task bundle (a zip file): {exc}") from None
    missing = [n for n in _REQUIRED_ENTRIES if n not in names]
    if missing:
        raise InputFileError(path, f"not a pose landmarker .task bundle: missing {', '.join(missing)}")
    return path


def _close_landmarker(landmarker) -> None:
    with contextlib.suppress(Exception), stderr_silenced():
        landmarker.close()


_LIVE: weakref.WeakSet[PoseEstimator] = weakref.WeakSet()
_exit_hook_installed = False


def _close_all() -> None:
    for est in list(_LIVE):
        est.close()


def _install_exit_hook() -> None:
    """Close live estimators at exit *before* the thread pools stop: MediaPipe runs its C calls on a
    ThreadPoolExecutor, which refuses work once ``concurrent.futures`` has shut down (plain atexit is too late)."""
    global _exit_hook_installed
    if _exit_hook_installed:
        return
    register = getattr(threading, "_register_atexit", None)
    try:
        if register is None:
            raise RuntimeError
        register(_close_all)  # runs before concurrent.futures' own hook (registered earlier, called later)
    except RuntimeError:
        atexit.register(_close_all)
    _exit_hook_installed = True


def load_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as BGR ``uint8`` (H, W, 3); :class:`InputFileError` if it is missing or not an image."""
    import cv2

    p = Path(path)
    if not p.is_file():
        raise InputFileError(p, "image file not found")
    data = np.fromfile(str(p), dtype=np.uint8)
    img = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if img is None:
        raise InputFileError(p, "not a readable image (OpenCV could not decode it)")
    return img


def _as_rgb(frame: np.ndarray) -> np.ndarray | None:
    """BGR/BGRA/gray uint8 -> contiguous RGB uint8; None for frames too small to hold a person."""
    import cv2

    if not isinstance(frame, np.ndarray):
        raise InputFileError(None, f"expected a numpy image array, got {type(frame).__name__}")
    if frame.dtype != np.uint8:
        raise InputFileError(None, f"expected a uint8 image, got dtype {frame.dtype}")
    if frame.ndim == 3 and frame.shape[2] == 1:
        frame = frame[:, :, 0]
    if frame.ndim == 2:
        code = cv2.COLOR_GRAY2RGB
    elif frame.ndim == 3 and frame.shape[2] == 3:
        code = cv2.COLOR_BGR2RGB
    elif frame.ndim == 3 and frame.shape[2] == 4:
        code = cv2.COLOR_BGRA2RGB
    else:
        raise InputFileError(None, f"expected an image of shape (H, W), (H, W, 3) or (H, W, 4), got {frame.shape}")
    if min(frame.shape[:2]) < _MIN_SIDE:
        return None
    return np.ascontiguousarray(cv2.cvtColor(np.ascontiguousarray(frame), code))


class PoseEstimator:
    """MediaPipe pose landmarker for BGR frames; returns a :class:`PersonPose` per detected person.

    ``mode="video"`` tracks between frames (faster, smoother) and needs increasing timestamps: a timestamp that
    repeats or goes back is bumped to 1 ms after the previous one, and ``None`` means previous + 1/30 s.
    ``mode="image"`` treats every frame on its own.  Use it as a context manager or call :meth:`close`.
    ``quiet`` hides the native log lines MediaPipe writes to stderr (fd 2 goes to a scratch file while native code
    runs; other lines written meanwhile are passed on: :func:`cognn.pose.quiet.stderr_silenced`).

    ``search_every`` (video mode): MediaPipe runs its person detector on every frame while it tracks fewer people
    than ``num_poses``, which doubles the cost of a frame with one person in view of a two-person landmarker. With
    ``n`` people tracked (0 < n < num_poses), the frames go to a landmarker for ``n`` people, which only tracks them,
    and every ``search_every``-th frame to the full one, which looks for more: a person who walks in is found
    within ``search_every`` frames. 1: look on every frame.
    """

    def __init__(self, model_path: str | os.PathLike | None = None, *, mode: str = "video", num_poses: int = 2,
                 min_detection_confidence: float = 0.5, min_presence_confidence: float = 0.5,
                 min_tracking_confidence: float = 0.5, quiet: bool = True, search_every: int = 1) -> None:
        if mode not in ("video", "image"):
            raise ValueError(f"mode must be 'video' or 'image', got {mode!r}")
        if num_poses < 1:
            raise ValueError(f"num_poses must be >= 1, got {num_poses}")
        if search_every < 1:
            raise ValueError(f"search_every must be >= 1, got {search_every}")
        self.model_path = resolve_model_path(model_path)
        self.mode = mode
        self.num_poses = int(num_poses)
        self.search_every = int(search_every)
        self.quiet = quiet
        self._last_ts_ms: int | None = None
        self._landmarker = None
        #: landmarkers for fewer people than num_poses (tracking only), made when first needed
        self._fewer: dict[int, Any] = {}
        self._tracked = 0
        self._since_search = 0
        vision = mediapipe_vision()
        from mediapipe.tasks.python import BaseOptions

        self._options = vision.PoseLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(self.model_path)),
            running_mode=vision.RunningMode.VIDEO if mode == "video" else vision.RunningMode.IMAGE,
            num_poses=self.num_poses,
            min_pose_detection_confidence=float(min_detection_confidence),
            min_pose_presence_confidence=float(min_presence_confidence),
            min_tracking_confidence=float(min_tracking_confidence),
            output_segmentation_masks=False,
        )
        self._create()

    def _new_landmarker(self, num_poses: int) -> Any:
        """A native landmarker with this estimator's options for ``num_poses`` people."""
        from dataclasses import replace

        vision = mediapipe_vision()
        try:
            with stderr_silenced(self.quiet):
                return vision.PoseLandmarker.create_from_options(replace(self._options, num_poses=num_poses))
        except (ValueError, RuntimeError, OSError) as exc:
            raise InputFileError(self.model_path, f"MediaPipe could not load the pose model: {exc}") from None

    def _create(self) -> None:
        self._landmarker = self._new_landmarker(self.num_poses)
        self._finalizer = weakref.finalize(self, _close_landmarker, self._landmarker)
        _LIVE.add(self)
        _install_exit_hook()
        self._last_ts_ms = None
        self._tracked = 0
        self._since_search = 0

    # -- lifecycle ---------------------------------------------------------------------------------------------------
    def close(self) -> None:
        """Release the native landmarkers (idempotent)."""
        fin = getattr(self, "_finalizer", None)
        if fin is not None:
            fin()
        self._landmarker = None
        self._close_fewer()

    def _close_fewer(self) -> None:
        fewer = getattr(self, "_fewer", {})
        for _landmarker, fin in fewer.values():
            fin()
        fewer.clear()

    def _tracking(self, n: int) -> Any:
        """The landmarker for ``n`` people (fewer than ``num_poses``), made on first use."""
        entry = self._fewer.get(n)
        if entry is None:
            landmarker = self._new_landmarker(n)
            entry = self._fewer[n] = (landmarker, weakref.finalize(self, _close_landmarker, landmarker))
        return entry[0]

    def _landmarker_now(self) -> Any:
        """The landmarker for this frame (see ``search_every``)."""
        n = self._tracked
        if self.mode != "video" or self.search_every <= 1 or not 0 < n < self.num_poses \
                or self._since_search >= self.search_every - 1:
            self._since_search = 0
            return self._landmarker
        self._since_search += 1
        return self._tracking(n)

    def new_stream(self) -> None:
        """Start a new video: forget tracking state and timestamps (recreates the native landmarker in VIDEO mode
        once a frame has been processed, about 0.2 s)."""
        if self._landmarker is None:
            raise RuntimeError("PoseEstimator is closed")
        if self.mode == "video" and self._last_ts_ms is not None:
            self.close()
            self._create()
        self._close_fewer()

    @property
    def closed(self) -> bool:
        return self._landmarker is None

    def __enter__(self) -> PoseEstimator:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()

    # -- inference ---------------------------------------------------------------------------------------------------
    def _next_timestamp_ms(self, timestamp_s: float | None) -> int:
        last = self._last_ts_ms
        if timestamp_s is None or not np.isfinite(timestamp_s):
            ts = 0 if last is None else last + 33
        else:
            ts = int(round(float(timestamp_s) * 1000.0))
        if last is not None and ts <= last:
            ts = last + 1
        self._last_ts_ms = ts
        return ts

    def process(self, frame_bgr: np.ndarray, timestamp_s: float | None = None) -> list[PersonPose]:
        """Detect up to ``num_poses`` people in a BGR ``uint8`` frame (gray and BGRA are accepted too).

        Returns an empty list for frames with nobody in them or too small to hold a person; raises
        :class:`InputFileError` for a non-uint8 array or an impossible shape.
        """
        if self._landmarker is None:
            raise RuntimeError("PoseEstimator is closed")
        rgb = _as_rgb(frame_bgr)
        if rgb is None:
            if self.mode == "video":
                self._next_timestamp_ms(timestamp_s)
            return []
        mediapipe_vision()
        import mediapipe as mp

        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb)
        landmarker = self._landmarker_now() if self.mode == "video" else self._landmarker
        # the native code logs now and then while it runs (its first inferences, its first landmark projection, a
        # buffer it had to realign): those lines are dropped, any other line on fd 2 meanwhile is passed on
        with stderr_silenced(self.quiet):
            if self.mode == "video":
                result = landmarker.detect_for_video(image, self._next_timestamp_ms(timestamp_s))
            else:
                result = landmarker.detect(image)
        people = _to_people(result, rgb.shape[1], rgb.shape[0])
        self._tracked = len(people)
        return people


def _to_people(result, width: int, height: int) -> list[PersonPose]:
    people = []
    for norm_lms, world_lms in zip(result.pose_landmarks, result.pose_world_landmarks):
        norm = np.array([(p.x, p.y, p.z) for p in norm_lms], dtype=np.float32)
        world = np.array([(p.x, p.y, p.z) for p in world_lms], dtype=np.float32)
        vis = np.array([p.visibility if p.visibility is not None else 0.0 for p in norm_lms], dtype=np.float32)
        if norm.shape != (33, 3) or world.shape != (33, 3):
            continue
        px = norm[:, :2] * np.array([width, height], dtype=np.float32)
        people.append(PersonPose(image_px=px, image_norm=norm, world=world, visibility=vis))
    return people
