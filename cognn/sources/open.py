"""Opening any input the same way: a path (video, NTU ``.skeleton``, Kinetics ``.json``, cognn HDF5, ``file.h5#i``),
a camera index, or a folder of these (:func:`expand_inputs`)."""
from __future__ import annotations

import os
from pathlib import Path

from ..errors import InputFileError
from ..layouts import Layout, get_layout
from ..pose.tracker import PoseOptions, PoseTracker
from ..resources import demo_recording
from .frame import FrameSource

__all__ = ["open_source", "source_kind", "natural_layout", "expand_inputs", "split_sample", "DEMO_RECORDING",
           "VIDEO_EXTENSIONS",
           "SKELETON_EXTENSIONS", "KINETICS_EXTENSIONS", "HDF5_EXTENSIONS", "SUPPORTED_EXTENSIONS", "SourceSpec"]

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv")
SKELETON_EXTENSIONS = (".skeleton",)
KINETICS_EXTENSIONS = (".json",)
HDF5_EXTENSIONS = (".h5", ".hdf5")
SUPPORTED_EXTENSIONS = VIDEO_EXTENSIONS + SKELETON_EXTENSIONS + KINETICS_EXTENSIONS + HDF5_EXTENSIONS

#: what :func:`open_source` takes: a path, ``"file.h5#i"``, a camera index, or a stream URL / device path
SourceSpec = str | os.PathLike | int
#: the bundled demo recording (generated motion, made by tools/make_demo_recording.py): ``cognn-infer --demo`` and
#: the app's first start
DEMO_RECORDING = demo_recording()


def split_sample(spec: str) -> tuple[str, int | None]:
    """``"data.h5#12"`` -> ``("data.h5", 12)``; anything else -> ``(spec, None)``."""
    head, sep, tail = spec.rpartition("#")
    if sep and tail.isdigit() and head.lower().endswith(HDF5_EXTENSIONS):
        return head, int(tail)
    return spec, None


def source_kind(spec: SourceSpec) -> str | None:
    """``"camera"`` for an index, ``"stream"`` for a URL or device path, ``"video"``, ``"ntu"``, ``"kinetics"``,
    ``"hdf5"`` by file extension, else None."""
    if isinstance(spec, int):
        if isinstance(spec, bool):  # not a path either (os.fspath raised the same TypeError here)
            raise TypeError("spec must be a path or a camera index")
        return "camera"
    # -- streams (cognn.sources.stream): before the extension, as http://host/clip.mp4 is a stream too
    from .stream import is_stream_spec

    if is_stream_spec(spec):
        return "stream"
    ext = Path(split_sample(os.fspath(spec))[0]).suffix.lower()
    if ext in VIDEO_EXTENSIONS:
        return "video"
    if ext in SKELETON_EXTENSIONS:
        return "ntu"
    if ext in KINETICS_EXTENSIONS:
        return "kinetics"
    if ext in HDF5_EXTENSIONS:
        return "hdf5"
    return None


def is_pixel(spec: SourceSpec) -> bool:
    """True for sources that need pose (videos, cameras, streams)."""
    return source_kind(spec) in ("video", "camera", "stream")


def natural_layout(spec: SourceSpec, default: str) -> str:
    """The layout a source is read in: a skeleton file's own (NTU ``ntu25``, Kinetics ``kinetics18``, an HDF5 file's
    ``layout`` attribute); pixel sources take ``default`` (the model's). Unreadable files give ``default`` (opening
    them reports the problem)."""
    kind = source_kind(spec)
    if kind == "ntu":
        return "ntu25"
    if kind == "kinetics":
        return "kinetics18"
    if kind == "hdf5" and not isinstance(spec, int):  # an HDF5 file is a path
        from ..data.store import open_h5

        try:
            with open_h5(split_sample(os.fspath(spec))[0]) as f:
                value = f.attrs.get("layout", default)
            return get_layout(value.decode() if isinstance(value, bytes) else str(value)).name
        except (InputFileError, OSError, ValueError):
            return default
    return default


def open_source(spec: SourceSpec, *, layout: str | Layout = "ntu25", num_persons: int = 2,
                skeleton_video: str | os.PathLike | None = None, pose: PoseOptions = PoseOptions(),
                tracker: PoseTracker | None = None) -> FrameSource:
    """Open a video, NTU ``.skeleton``, Kinetics ``.json``, cognn HDF5 file (``"file.h5#i"``: dataset sample ``i``),
    an ``int`` camera index, or a stream (a URL such as ``rtsp://...`` / ``http://...``, or a device path such as
    ``/dev/video0``: :class:`~cognn.sources.stream.StreamSource`) as a :class:`FrameSource` in ``layout``.

    Pixel sources run pose with ``pose`` options, or through ``tracker`` (an open :class:`PoseTracker`, restarted,
    left open). ``skeleton_video``: a video shown under a skeleton file (frame ``i`` with skeleton frame ``i``).
    Raises :class:`InputFileError` naming the file and the problem (missing, unsupported, corrupt, wrong layout),
    :class:`~cognn.errors.CognnError` for a camera that fails.
    """
    from .files import dataset_source, kinetics_source, ntu_source, recording_source
    from .pixels import CameraSource, VideoSource

    lay = get_layout(layout)
    if isinstance(spec, bool):
        raise TypeError("spec must be a path or a camera index")
    if isinstance(spec, int):
        return CameraSource(spec, lay, num_persons=num_persons, pose=pose, tracker=tracker)
    # -- streams: a URL or a device path (cognn.sources.stream), reopened when lost
    if source_kind(spec) == "stream":
        from .stream import StreamSource

        if skeleton_video is not None:
            raise ValueError("skeleton_video applies to skeleton files, not to streams")
        return StreamSource(str(spec).strip(), lay, num_persons=num_persons, pose=pose, tracker=tracker)
    text, sample = split_sample(os.fspath(spec))
    path = Path(text)
    kind = source_kind(path)
    if kind is None:
        if path.is_dir():
            raise InputFileError(path, "is a folder; give the files in it (cognn-infer accepts folders)")
        raise InputFileError(path, f"unsupported file type {path.suffix or '(no extension)'!r}; supported: "
                                   f"{', '.join(SUPPORTED_EXTENSIONS)}")
    _check_input_path(path)
    if kind == "video":
        if skeleton_video is not None:
            raise ValueError("skeleton_video applies to skeleton files, not to videos")
        return VideoSource(path, lay, num_persons=num_persons, pose=pose, tracker=tracker)
    if kind == "ntu":
        return ntu_source(path, lay, num_persons, skeleton_video)
    if kind == "kinetics":
        return kinetics_source(path, lay, num_persons, skeleton_video)
    from ..data.store import h5_format

    if h5_format(path) == "cognn-recording":
        if sample is not None:
            raise InputFileError(path, "is a recording; '#index' selects a sample of a dataset file")
        return recording_source(path, lay, num_persons, skeleton_video)
    return dataset_source(path, sample or 0, lay, num_persons, skeleton_video)


def _check_input_path(path: Path) -> None:
    """A readable regular file, or one sentence saying what it is instead (a fifo or a device would hang)."""
    from ..data.files import check_input_file

    check_input_file(path)


def expand_inputs(paths: list[str | os.PathLike], skipped: list[str] | None = None) -> list[str]:
    """Input specs in order: folders expanded recursively (supported extensions, sorted), dataset files into one
    ``"file.h5#i"`` per sample; everything else (including missing or unsupported paths) passed on unchanged so that
    opening it reports the problem. Entries of a folder that are not regular files (fifos, devices, broken links)
    are left out and named in ``skipped``."""
    from ..data.store import dataset_length, h5_format

    out: list[str] = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            items = []
            for f in sorted(path.rglob("*")):
                if source_kind(f) is None or f.is_dir():
                    continue
                if not f.is_file():  # a fifo, a device or a broken link would hang or fail
                    if skipped is not None:
                        skipped.append(f"{f}: not a regular file, skipped")
                    continue
                items.append(str(f))
        else:
            items = [os.fspath(p)]
        for item in items:
            name, sample = split_sample(item)
            n = None
            if sample is None and source_kind(name) == "hdf5" and Path(name).is_file():
                try:
                    n = dataset_length(name) if h5_format(name) == "cognn-dataset" else None
                except (InputFileError, OSError):
                    n = None  # opening it reports the problem
            if n is not None and n > 1:
                out.extend(f"{item}#{i}" for i in range(n))
            else:
                out.append(item)
    return out
